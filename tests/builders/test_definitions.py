"""The definitions area: drafts, errors next to their controls, diff, publish, history,
rollback, who did what; the builders' operations (add a field, a condition row…)."""

from __future__ import annotations

import copy

from django.db import connection

from builders.models import Activity
from tessera.definitions import service
from tests.builders.forms import form_data
from tests.conftest import CUSTOMER

URL = "/admin/tessera/definitions/object/customer/edit/"


def row(data, name: str) -> int:
    """The row of a field in the builder (PostgreSQL keeps jsonb keys in its own order)."""
    return next(i for i in range(int(data["f-count"][0])) if data[f"f-{i}-name"] == [name])


def _form(client, url=URL, **changes):
    data = form_data(client.get(url + "?mode=builder").content.decode())
    for name, value in changes.items():
        data[name] = value if isinstance(value, list) else [value]
    return data


def test_add_a_field_with_labels_then_publish_and_see_history(admin_client, publish_object, root):
    publish_object("customer", CUSTOMER)
    data = _form(admin_client, op="add-field")
    page = admin_client.post(URL, data).content.decode()
    data = form_data(page)
    last = int(data["f-count"][0]) - 1
    data.update(
        {
            f"f-{last}-name": ["nickname"],
            f"f-{last}-label_en": ["Nickname"],
            f"f-{last}-label_zh": ["昵称"],
            f"f-{last}-index": ["on"],
            "op": ["publish"],
            "comment": ["nicknames for the shop"],
        }
    )
    response = admin_client.post(URL, data)
    assert response.status_code == 302
    body = service.current("object", "customer").body
    assert body["properties"]["nickname"] == {
        "x-type": "string",
        "x-label": {"en": "Nickname", "zh": "昵称"},
        "x-index": True,
    }
    if connection.vendor == "sqlite":  # PostgreSQL's jsonb keeps keys in its own order
        assert list(body["properties"])[-1] == "nickname"
    actions = list(Activity.objects.filter(key="customer").values_list("action", "user"))
    assert ("publish", root.pk) in actions and ("draft", root.pk) in actions
    history = admin_client.get(
        "/admin/tessera/definitions/object/customer/history/"
    ).content.decode()
    assert "nicknames for the shop" in history and "Field “nickname”" in history


def test_errors_are_shown_next_to_the_field_in_words_and_nothing_is_saved(
    admin_client, publish_object
):
    publish_object("customer", CUSTOMER)
    data = _form(admin_client, op="save")
    data[f"f-{row(data, 'email')}-type"] = ["emial"]  # misspelt type
    html = admin_client.post(URL, data).content.decode()
    shown = html.split('data-field="email"')[1].split("tb-field-row")[0]
    assert "This field type is not installed." in shown
    assert service.draft("object", "customer") is None


def test_reorder_and_remove_fields(admin_client, publish_object):
    publish_object("customer", CUSTOMER)
    data = _form(admin_client)
    before = [data[f"f-{i}-name"][0] for i in range(int(data["f-count"][0]))]
    data["op"] = ["down:0"]
    data = form_data(admin_client.post(URL, data).content.decode())
    after = [data[f"f-{i}-name"][0] for i in range(int(data["f-count"][0]))]
    assert after[:2] == [before[1], before[0]] and after[2:] == before[2:]
    data["op"] = [f"remove:{row(data, 'tags')}"]
    data = form_data(admin_client.post(URL, data).content.decode())
    names = [data[f"f-{i}-name"][0] for i in range(int(data["f-count"][0]))]
    assert "tags" not in names and names[:2] == after[:2]


def test_migration_preview_says_what_breaks(admin_client, publish_object):
    from tessera.records import service as records

    publish_object("customer", CUSTOMER)
    records.create("customer", {"name": "Ana", "points": 10})
    data = _form(admin_client, op="migration-preview")
    data[f"f-{row(data, 'points')}-type"] = ["boolean"]  # integer → boolean
    html = admin_client.post(URL, data).content.decode()
    assert "1 records checked: 1 would break" in html


def test_condition_builder_rows_and_live_count(admin_client, publish_object):
    from tessera.records import service as records

    publish_object("customer", CUSTOMER)
    for name, city in (("Ana", "Hangzhou"), ("Bo", "Shanghai")):
        records.create("customer", {"name": name, "city": city})
    url = "/admin/tessera/definitions/segment/add/"
    data = form_data(admin_client.get(url).content.decode())
    data.update({"key": ["hz"], "s-object": ["customer"], "op": ["c-add:0:field"]})
    data = form_data(admin_client.post(url, data).content.decode())
    data.update({"c0.0.field": ["city"], "c0.0.op": ["eq"], "c0.0.value": ["Hangzhou"], "op": [""]})
    html = admin_client.post(url, data).content.decode()
    assert 'data-count="1"' in html and "Ana" in html
    data = form_data(html)
    data["op"] = ["publish"]
    assert admin_client.post(url, data).status_code == 302
    assert service.current("segment", "hz").body["condition"] == {
        "all": [{"field": "city", "op": "eq", "value": "Hangzhou"}]
    }


def test_diff_against_published_and_rollback(admin_client, publish_object):
    publish_object("customer", CUSTOMER)
    changed = copy.deepcopy(CUSTOMER)
    changed["properties"]["city"]["x-label"] = {"en": "Town"}
    service.save_and_publish("object", "customer", changed)
    edit = admin_client.get(URL + "?mode=json").content.decode()
    assert "No changes." in edit
    service.save_draft("object", "customer", CUSTOMER)
    edit = admin_client.get(URL + "?mode=json").content.decode()
    assert "Field “city”" in edit and "Town" in edit
    response = admin_client.post("/admin/tessera/definitions/object/customer/rollback/1/")
    assert response.status_code == 302
    # the pending draft (v3) is replaced by the old body and published as v3
    assert service.current("object", "customer").version == 3
    assert service.current("object", "customer").body == CUSTOMER
    assert Activity.objects.filter(action="rollback", version=3).exists()


def test_json_mode_shows_meta_schema_errors_in_words(admin_client, publish_object):
    publish_object("customer", CUSTOMER)
    html = admin_client.post(
        URL,
        {
            "mode": "json",
            "body_json": '{"properties": {"Bad Name": {"x-type": "string"}}}',
            "op": "save",
        },
    ).content.decode()
    assert "Use lower-case letters, digits and _, starting with a letter." in html


def test_workflow_and_campaign_builders_draw_diagrams_and_dry_run(admin_client, db):
    from pathlib import Path

    from django.core.management import call_command

    from tessera.records import service as records

    docs = Path(__file__).resolve().parents[2] / "docs" / "examples"
    with open("/dev/null", "w") as quiet:
        call_command(
            "definitions",
            "load",
            str(docs / "workflows" / "ticket.json"),
            str(docs / "workflows" / "cn-office.json"),
            str(docs / "workflows" / "returns.json"),
            str(docs / "campaigns" / "customer.json"),
            str(docs / "campaigns" / "order.json"),
            str(docs / "campaigns" / "abandoned-cart.json"),
            "--publish",
            stdout=quiet,
        )
    workflow = admin_client.get(
        "/admin/tessera/definitions/workflow/returns/edit/"
    ).content.decode()
    assert '<svg class="tb-diagram"' in workflow and 'data-node="approved"' in workflow
    url = "/admin/tessera/definitions/campaign/abandoned-cart/edit/"
    campaign = admin_client.get(url).content.decode()
    assert 'data-node="wait_an_hour"' in campaign and 'name="n-6-a0-p-prefix"' in campaign
    ana = records.create(
        "customer", {"name": "Ana", "email": "ana@example.com", "email_opt_in": True}
    )
    data = form_data(campaign)
    data.update({"op": ["dryrun"], "dry-record": [str(ana.pk)]})
    walked = admin_client.post(url, data).content.decode()
    path = walked.split('class="tb-path-steps"')[1].split("</ol>")[0]
    steps = [part.split('"')[0] for part in path.split('data-node="')[1:]]
    # no order and no event yet: remind, wait, coupon, mail, end
    assert steps == [
        "trigger",
        "wait_an_hour",
        "bought",
        "remind",
        "wait_a_day",
        "bought_since",
        "coupon",
        "coupon_mail",
        "done",
    ]
    # the palette inserts a wait after the reminder, linked in
    data["op"] = ["n-insert:remind:wait"]
    data = form_data(admin_client.post(url, data).content.decode())
    data["op"] = ["save"]
    assert admin_client.post(url, data).status_code == 302
    nodes = service.draft("campaign", "abandoned-cart").body["nodes"]
    assert (
        nodes["remind"]["next"].startswith("wait_")
        and nodes[nodes["remind"]["next"]]["next"] == "wait_a_day"
    )
