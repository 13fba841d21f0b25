"""send_email through a real local SMTP server (aiosmtpd), rendered from the record."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tessera.actions import service as actions
from tessera.actions.builtins.email import message_id
from tessera.actions.models import OutboxStatus


def mail(key: str, record, **params) -> object:
    action = {"type": "send_email", "params": {"subject": "Hi", "body": "Hello", **params}}
    entry = actions.enqueue(key, action, object_key="customer", record_id=record.pk)
    actions.deliver(entry.pk)
    entry.refresh_from_db()
    return entry


def test_an_email_rendered_from_the_record_arrives_with_its_key(li, smtp_settings, dispatched):
    entry = mail(
        "run:1:welcome:1",
        li,
        to="email",
        subject="Welcome, {{ record.name }}!\n(#{{ record.id }})",
        body="Dear {{ record.name }},\nyour tags: {{ record.tags|join:', ' }}. "
        "Points: {{ record.points|default:0 }}.",
        html="<p>Dear <b>{{ record.name }}</b> from {{ record.city }}</p>",
    )
    assert entry.status == OutboxStatus.SENT, entry.last_error
    (got,) = smtp_settings.received
    assert got.recipients == ["lilei@example.com"] and got.sender == "shop@example.com"
    assert got.message["Subject"] == f"Welcome, Li Lei! (#{li.pk})"
    assert got.text().strip() == "Dear Li Lei,\nyour tags: newsletter. Points: 10."
    assert "<p>Dear <b>Li Lei</b> from Hangzhou</p>" in got.html()
    assert got.message["Message-ID"] == message_id("run:1:welcome:1")
    assert got.message["Tessera-Delivery"] == "run:1:welcome:1"
    assert entry.result == {"recipients": 1, "message_id": message_id("run:1:welcome:1")}


def test_html_escapes_the_customers_text(li, smtp_settings, dispatched):
    from tessera.records import service as records

    records.update("customer", li.pk, {"city": "<script>alert(1)</script>"}, version=1)
    mail("esc:1", li, to="email", body="{{ record.city }}", html="<p>{{ record.city }}</p>")
    (got,) = smtp_settings.received
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in got.html()
    assert got.text().strip() == "<script>alert(1)</script>"  # plain text is not HTML


@pytest.mark.parametrize(
    "template",
    [
        "{% load static %}{% static 'x' %}",
        "{% include 'admin/base.html' %}",
        "{% extends 'admin/base.html' %}",
        "{% debug %}",
        "{% url 'admin:index' %}",
        "{% csrf_token %}",
        "{{ record.name|safe }}",
        "{% autoescape off %}{{ record.name }}{% endautoescape %}",
        "{{ record.__class__ }}",
        "{{ record.name.__class__.__mro__ }}",
        '{{ record.name|ljust:"999999999" }}',
        '{{ record.name|stringformat:"999999999s" }}',
    ],
)
def test_a_template_cannot_reach_beyond_the_data(li, template):
    errors = actions.check(
        {"type": "send_email", "params": {"to": "email", "subject": "s", "body": template}},
        object_key="customer",
        path="$",
    )
    assert [(e.path, e.code) for e in errors] == [("$.params.body", "template")]


def test_what_a_template_can_see_is_the_record_only(li, smtp_settings, dispatched, settings):
    body = (
        "[{{ settings.SECRET_KEY }}][{{ request }}][{{ user }}][{{ perms }}]"
        "[{{ record.items }}][{{ record.tags.pop }}][{{ record.tags.append }}][{{ csrf_token }}]"
        "[{{ record.name.upper }}][{{ record.tags|length }}]"
    )
    mail("see:1", li, to="email", body=body)
    text = smtp_settings.received[0].text()
    assert settings.SECRET_KEY not in text
    assert text.startswith("[][][][][")
    assert "[LI LEI][1]" in text  # reading works; the frozen data has no pop or append
    assert "pop" not in text and "append" not in text
    li.refresh_from_db()
    assert li.data["tags"] == ["newsletter"]


def test_recipients_from_fields_addresses_and_a_group(
    li, smtp_settings, dispatched, django_user_model
):
    from tessera.records import service as records

    records.update("customer", li.pk, {"cc": ["a@example.com", "lilei@example.com"]}, version=1)
    support = Group.objects.create(name="support")
    for name, address, active in [
        ("ana", "ana@example.com", True),
        ("bo", "", True),
        ("cy", "cy@example.com", False),
    ]:
        user = django_user_model.objects.create_user(name, address, "pw-1234567", is_active=active)
        user.groups.add(support)
    entry = mail("grp:1", li, to=["email", "cc", "boss@example.com"], to_group="support")
    (got,) = smtp_settings.received
    assert got.recipients == [
        "lilei@example.com",
        "a@example.com",
        "boss@example.com",
        "ana@example.com",
    ]
    assert entry.result["recipients"] == 4


def test_no_recipient_is_skipped(shop, smtp_settings, dispatched):
    from tessera.records import service as records

    nobody = records.create("customer", {"name": "No Mail"})
    entry = mail("none:1", nobody, to="email", to_group="nobody-here")
    assert entry.status == OutboxStatus.SKIPPED and "no recipient" in entry.last_error
    assert smtp_settings.received == []


def test_a_server_refusal_with_5xx_fails_at_once_and_4xx_is_retried(
    li, smtp_settings, dispatched, fast_retries
):
    smtp_settings.refuse = ["550 5.1.1 mailbox unavailable"]
    entry = mail("refused:1", li, to="email")
    assert (entry.status, entry.attempts) == (OutboxStatus.FAILED, 1)
    assert "SMTP 550" in entry.last_error

    smtp_settings.refuse = ["451 4.3.0 try again later"]
    entry = mail("busy:1", li, to="email")
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 1)
    actions.deliver(entry.pk)
    entry.refresh_from_db()
    assert entry.status == OutboxStatus.SENT and smtp_settings.keys() == ["busy:1"]


def test_an_unreachable_server_is_retried(li, settings, dispatched, fast_retries):
    from tests.actions.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    entry = mail("down:1", li, to="email")
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 1)
    assert "ConnectionRefusedError" in entry.last_error


def test_a_template_cannot_build_a_huge_message(li, smtp_settings, dispatched):
    from tessera.records import service as records

    records.update("customer", li.pk, {"tags": [f"{i:040d}" for i in range(30)]}, version=1)
    loops = (
        "{% for a in record.tags %}{% for b in record.tags %}{% for c in record.tags %}"
        "{{ c }}{% endfor %}{% endfor %}{% endfor %}"
    )  # 27,000 tags of 40 characters: just over 1 MB
    entry = mail("huge:1", li, to="email", body=loops)
    assert entry.status == OutboxStatus.FAILED and "at most 1048576" in entry.last_error
    assert smtp_settings.received == []

    entry = mail("precise:1", li, to="email", body='{{ record.points|floatformat:"999999999" }}')
    assert entry.status == OutboxStatus.SENT
    assert smtp_settings.received[0].text().strip() == "10." + "0" * 20  # capped at 20 places
