// Kanban: dragging a card onto another column posts the move; the server answers with the
// board as it now is (or with the reason the move was refused) and htmx swaps it in.
(function () {
  "use strict";
  let dragged = null;
  document.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".kcard[draggable=true]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.run);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".column.over").forEach((c) => c.classList.remove("over"));
  });
  document.addEventListener("dragover", function (event) {
    const column = event.target.closest && event.target.closest(".column");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.add("over");
  });
  document.addEventListener("dragleave", function (event) {
    const column = event.target.closest && event.target.closest(".column");
    if (column) column.classList.remove("over");
  });
  document.addEventListener("drop", function (event) {
    const column = event.target.closest && event.target.closest(".column");
    if (!column || !dragged) return;
    event.preventDefault();
    const board = column.closest("[data-move-url]");
    const from = dragged.closest(".column");
    if (from === column) return;
    window.htmx.ajax("POST", board.dataset.moveUrl, {
      target: "#" + board.id,
      swap: "outerHTML",
      values: { run: dragged.dataset.run, version: dragged.dataset.version, to: column.dataset.state },
    });
  });
})();
