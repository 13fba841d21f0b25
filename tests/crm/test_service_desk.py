"""The after-sales desk end to end on the installed packs, with a frozen clock and a real SMTP
server: a complaint breaching its SLA in business hours and escalating; an FAQ answer sent
and the ticket closed by the customer's reply; the satisfaction survey and its stored score.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tessera.api import tokens
from tessera.flows import service as flows
from tessera.flows.models import Run, RunStatus
from tessera.records import service as records
from tessera.records.models import Event, Record

from .conftest import Clock

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MONDAY = dt.datetime(2026, 12, 7, 11, 30, tzinfo=SHANGHAI)  # a working Monday, before lunch


def ticket(**data):
    values = {
        "subject": "Parcel arrived crushed",
        "type": "complaint",
        "channel": "web",
        "email": "meimei@example.com",
        **data,
    }
    return records.create("ticket", values)


def fresh(record):
    return Record.objects.get(pk=record.pk)


def run_of(record) -> Run:
    return Run.objects.get(flow_key="after-sales-service", subject_id=record.pk)


def test_a_complaint_breaches_its_sla_in_business_hours_and_escalates(shop, smtp_settings):
    with Clock(MONDAY.astimezone(dt.UTC)) as clock:
        complaint = ticket(description="The box was crushed and the vase inside is broken.")
        assert "faq" not in fresh(complaint).data  # nothing in the FAQ for this one
        assert fresh(complaint).data["assignee"] in ("agent.li", "agent.chen")
        # 2 working hours: 11:30-12:00, lunch, 13:00-14:30. Half an hour before: the reminder.
        clock.to(dt.datetime(2026, 12, 7, 13, 59, tzinfo=SHANGHAI))
        clock.tick()
        assert "priority" not in fresh(complaint).data
        assert Event.objects.filter(subject_id=complaint.pk, type="sla_reminder").count() == 0
        clock.to(dt.datetime(2026, 12, 7, 14, 0, 1, tzinfo=SHANGHAI))
        clock.tick()
        assert Event.objects.filter(subject_id=complaint.pk, type="sla_reminder").count() == 1
        assert fresh(complaint).data["priority"] == "high"  # raised by the reminder
        assert not fresh(complaint).data.get("sla_breached")
        clock.to(dt.datetime(2026, 12, 7, 14, 29, tzinfo=SHANGHAI))
        clock.tick()
        assert not fresh(complaint).data.get("sla_breached")  # lunch did not count
        clock.to(dt.datetime(2026, 12, 7, 14, 30, 1, tzinfo=SHANGHAI))
        clock.tick()
        data = fresh(complaint).data
        assert data["sla_breached"] is True and data["escalated"] is True
        assert data["priority"] == "urgent" and data["assignee"] == "lead.zhang"
        assert run_of(complaint).assignee.username == "lead.zhang"
        breach = Event.objects.get(subject_id=complaint.pk, type="sla_breached")
        assert breach.payload["sla"] == "respond"
        mails = [m for m in smtp_settings.received if "SLA breached" in m.message["Subject"]]
        assert [m.recipients for m in mails] == [["lead.zhang@example.com"]]
        assert mails[0].message["Tessera-Delivery"]  # the outbox key of this one send
        clock.advance(hours=5)
        clock.tick()  # a breach fires once
        assert Event.objects.filter(subject_id=complaint.pk, type="sla_breached").count() == 1
        assert (
            len([m for m in smtp_settings.received if "SLA breached" in m.message["Subject"]]) == 1
        )


def test_an_faq_answer_is_mailed_and_the_customers_reply_closes_the_ticket(
    shop, smtp_settings, committed
):
    with Clock(MONDAY.astimezone(dt.UTC)) as clock:
        asked = ticket(
            subject="When will my order ship?", type="consultation", description="I paid yesterday."
        )
        other = ticket(subject="什么时候发货？", type="consultation", email="lilei@example.com")
        faq = Record.objects.get(pk=fresh(asked).data["faq"])
        assert "ship" in faq.data["keywords"]
        assert fresh(other).data["faq"] == faq.pk  # 发货 is a keyword too
        clock.advance(minutes=1, seconds=1)
        clock.tick()
        assert fresh(asked).data["status"] == "answered"
        assert fresh(asked).data["first_response_at"]
        answer = [m for m in smtp_settings.received if m.recipients == ["meimei@example.com"]]
        assert len(answer) == 1 and answer[0].message["Subject"] == "Re: When will my order ship?"
        assert faq.data["answer"].splitlines()[0] in answer[0].text()
        with committed():
            records.add_event(asked, "customer_replied", {"text": "Solved, thank you!"})
        with committed():
            records.add_event(other, "customer_replied", {"text": "还是没收到，物流不动"})
        assert fresh(asked).data["status"] == "closed" and fresh(asked).data["closed_at"]
        assert run_of(asked).status == RunStatus.COMPLETED
        assert fresh(other).data["status"] == "open"  # back to a person
        assert run_of(other).status == RunStatus.ACTIVE
        history = [s.transition for s in flows.history(run_of(asked)) if s.transition]
        assert history[-2:] == ["faq_answered", "customer_confirmed"]
        clock.advance(days=3)
        clock.tick()  # the respond SLA was met by the FAQ answer: no breach
        assert not fresh(asked).data.get("sla_breached")


def test_the_satisfaction_survey_goes_out_on_resolution_and_its_score_is_stored(
    shop, smtp_settings, client, django_user_model
):
    agent = django_user_model.objects.get(username="agent.li")
    with Clock(MONDAY.astimezone(dt.UTC)) as clock:
        case = ticket(subject="Earbuds stopped charging", type="repair", channel="app")
        run = run_of(case)
        run = flows.transition(run.pk, "accept", actor=agent, version=run.version)
        clock.advance(hours=1)
        run = flows.transition(
            run.pk,
            "resolve",
            actor=agent,
            version=run.version,
            fields={"resolution": "Sent a replacement cable"},
        )
        clock.tick()
        data = fresh(case).data
        assert data["status"] == "resolved" and data["resolved_at"]
        survey = [m for m in smtp_settings.received if m.message["Subject"].startswith("How did")]
        assert len(survey) == 1
        text = survey[0].text()
        assert f"https://shop.example.com/survey/{case.pk}?score=5" in text
        assert "Sent a replacement cable" in text
    # the shop's survey form stores the score through GraphQL
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345678")
    raw, _ = tokens.issue(admin, "survey form", ["read", "write"])
    mutation = """mutation($id: ID!, $version: Int!) { updateTicket(id: $id, version: $version,
        input: {satisfaction: 2, satisfaction_comment: "slow"}) { record { satisfaction } errors {
        path code } } }"""
    current = fresh(case)
    out = client.post(
        "/graphql",
        json.dumps(
            {"query": mutation, "variables": {"id": str(case.pk), "version": current.version}}
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    ).json()
    assert out["data"]["updateTicket"] == {"record": {"satisfaction": 2}, "errors": []}
    assert fresh(case).data["satisfaction"] == 2
    bad = client.post(
        "/graphql",
        json.dumps(
            {
                "query": mutation.replace("satisfaction: 2", "satisfaction: 9"),
                "variables": {"id": str(case.pk), "version": fresh(case).version},
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    ).json()
    assert bad["data"]["updateTicket"]["errors"] == [{"path": "$.satisfaction", "code": "maximum"}]
