"""The operator UI over real definitions, records and rights (Django's test client)."""

from __future__ import annotations

import csv
import io

from tessera.flows.models import Run
from tessera.records.models import Record


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_login_is_needed_and_navigation_lists_the_screens_a_person_may_see(client, shop):
    assert client.get("/app/").status_code == 302
    assert client.get("/app/").url.startswith("/app/login/")
    client.force_login(shop["operator"])
    page = client.get("/app/").content.decode()
    assert "/app/s/customers/" in page and "/app/s/tickets/" in page
    assert "/app/s/managers/" not in page  # roles: managers only


def test_table_shows_readable_columns_only_filters_sorts_pages_and_exports(operator_client, shop):
    page = operator_client.get("/app/s/customers/").content.decode()
    assert "E-mail" in page and "Total spent" not in page and ">900" not in page
    assert "Page 1 of 2" in page  # page_size 2, three customers
    # filter (text contains) and order, as the htmx fragment asks for them
    fragment = operator_client.get(
        "/app/s/customers/b/1/", {"b1.f.city": "Hang", "b1.sort": "name"}
    )
    text = fragment.content.decode()
    assert text.index(">Ana<") < text.index(">Cy<") and "Bo" not in text
    fragment = operator_client.get("/app/s/customers/b/1/", {"b1.sort": "-name"}).content.decode()
    assert fragment.index(">Cy<") < fragment.index(">Bo<")
    rows = _csv(operator_client.get("/app/s/customers/b/1/export.csv", {"b1.f.level": "silver"}))
    assert rows[0] == ["id", "Name", "E-mail", "City", "Level"]
    assert sorted(r[1] for r in rows[1:]) == ["Bo", "Cy"]


def test_admin_sees_every_field_and_export_has_them(admin_client_ui, shop):
    rows = _csv(admin_client_ui.get("/app/s/customers/b/1/export.csv", {"b1.sort": "name"}))
    assert rows[0][-1] == "Total spent" and rows[1][1] == "Ana" and rows[1][-1] == "900.00"


def test_form_shows_errors_next_to_inputs_then_creates(operator_client, shop):
    url = "/app/s/customers/b/2/submit"
    bad = operator_client.post(url, {"name": "", "email": "not-an-email"}, HTTP_HX_REQUEST="true")
    html = bad.content.decode()
    assert 'id="b2-name-error"' in html and "This field is required." in html
    assert "Enter a valid e-mail address." in html and 'value="not-an-email"' in html
    assert not Record.objects.filter(object_key="customer", data__name="Dee").exists()
    good = operator_client.post(
        url, {"name": "Dee", "email": "dee@example.com", "city": "Ningbo"}, HTTP_HX_REQUEST="true"
    )
    assert "Saved." in good.content.decode()
    created = Record.objects.get(object_key="customer", data__name="Dee")
    assert created.created_by == shop["operator"] and created.data["city"] == "Ningbo"


def test_form_refuses_a_field_the_person_may_not_write(operator_client, shop):
    operator_client.post("/app/s/customers/b/2/submit", {"name": "Eve", "total_spent": "5"})
    created = Record.objects.get(object_key="customer", data__name="Eve")
    assert "total_spent" not in created.data  # the input is not offered, a posted value is ignored


def test_kanban_move_takes_the_transition_and_settles_the_sla(operator_client, shop):
    run = Run.objects.get(subject=shop["ticket"], flow_key="service")
    assert run.data["sla"]["respond"]["status"] == "running"
    board = operator_client.get("/app/s/tickets/").content.decode()
    assert "Broken kettle" in board and 'data-state="working"' in board
    response = operator_client.post(
        "/app/s/tickets/b/0/move",
        {"run": run.pk, "version": run.version, "to": "working"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.node == "working" and run.data["sla"]["respond"]["status"] == "met"
    step = run.steps.order_by("-at", "-pk").first()
    assert step.transition == "start" and step.actor == shop["operator"]
    shop["ticket"].refresh_from_db()
    assert shop["ticket"].data["status"] == "working"
    # a move no transition makes (working → new) is refused with the reason, nothing changes
    again = operator_client.post(
        "/app/s/tickets/b/0/move",
        {"run": run.pk, "version": run.version, "to": "new"},
        HTTP_HX_REQUEST="true",
    )
    assert "No step leads from here to that column." in again.content.decode()
    run.refresh_from_db()
    assert run.node == "working"


def test_record_page_timeline_related_and_transition_with_comment(operator_client, shop):
    ana = shop["customers"]["Ana"]
    page = operator_client.get(f"/app/r/customer/{ana.pk}/").content.decode()
    assert "Timeline" in page and "120.00" in page  # the related order
    assert "Total spent" not in page and "900" not in page
    ticket = shop["ticket"]
    run = Run.objects.get(subject=ticket, flow_key="service")
    refused = operator_client.post(
        f"/app/r/ticket/{ticket.pk}/transition",
        {"run": run.pk, "version": run.version, "transition": "close"},
    )
    assert refused.status_code == 409 and "comment" in refused.content.decode()
    done = operator_client.post(
        f"/app/r/ticket/{ticket.pk}/transition",
        {"run": run.pk, "version": run.version, "transition": "close", "comment": "duplicate"},
    )
    assert done.status_code == 302
    run.refresh_from_db()
    assert run.node == "done"
    timeline = operator_client.get(f"/app/r/ticket/{ticket.pk}/").content.decode()
    assert "duplicate" in timeline and "Moved: close" in timeline


def test_chart_and_kpi_count_what_the_person_may_read(operator_client, shop):
    page = operator_client.get("/app/s/customers/").content.decode()
    assert '<p class="kpi-value">3</p>' in page
    assert "<svg" in page and "Hangzhou: 2" in page and "Shanghai: 1" in page


def test_kpi_ratio_and_sum(admin_client_ui, shop):
    from tessera.definitions import service

    service.save_and_publish(
        "screen",
        "kpis",
        {
            "blocks": [
                {
                    "type": "kpi",
                    "object": "customer",
                    "measure": {"aggregate": "sum", "field": "total_spent"},
                    "format": "money",
                },
                {
                    "type": "kpi",
                    "object": "customer",
                    "segment": "hangzhou",
                    "format": "percent",
                    "measure": {"aggregate": "count"},
                    "divided_by": {"measure": {"aggregate": "count"}},
                },
            ]
        },
    )
    page = admin_client_ui.get("/app/s/kpis/").content.decode()
    assert "955.00" in page and "66.7%" in page


def test_chinese_from_the_browser_or_the_persons_setting(client, shop):
    client.force_login(shop["operator"])
    page = client.get("/app/s/customers/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "客户" in page and "邮箱" in page and "银卡" in page and "导出 CSV" in page
    client.post("/app/language/", {"language": "zh-hans", "next": "/app/"})
    page = client.get("/app/s/customers/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "城市" in page  # the setting wins over the browser
