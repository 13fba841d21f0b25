"""docs/screens.md's example screen loads through the command line and works for an operator."""

from __future__ import annotations

import io
import json
from pathlib import Path

from django.contrib.auth.models import Group
from django.core.management import call_command

from tessera.api.models import ObjectPermission
from tessera.definitions import service
from tessera.records import service as records

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_screen_example_loads_and_renders(client, django_user_model):
    out = io.StringIO()
    call_command(
        "definitions",
        "load",
        str(DOCS / "examples" / "customer.json"),
        str(DOCS / "examples" / "order.json"),
        "--publish",
        stdout=out,
    )
    segment = json.loads((DOCS / "examples" / "segments" / "hangzhou-gold.json").read_text())
    service.save_and_publish("segment", "hangzhou-gold", segment.get("body", segment))
    call_command(
        "definitions",
        "load",
        str(DOCS / "examples" / "screens" / "customer-desk.json"),
        "--publish",
        stdout=out,
    )
    assert "published screen customer-desk v1" in out.getvalue()
    records.create(
        "customer", {"name": "韩梅梅", "city": "Hangzhou", "level": "gold", "total_spent": 800}
    )
    records.create(
        "customer", {"name": "Li Lei", "city": "Beijing", "level": "silver", "total_spent": 200}
    )

    support = Group.objects.create(name="support")
    ObjectPermission.objects.create(
        group=support, object_key="customer", can_create=True, read_fields=["*"], write_fields=["*"]
    )
    operator = django_user_model.objects.create_user("olivia", "o@example.com", "pw-123456789")
    client.force_login(operator)
    assert client.get("/app/s/customer-desk/").status_code == 404  # roles: support only
    operator.groups.add(support)
    page = client.get("/app/s/customer-desk/").content.decode()
    assert "Customer desk" in page and "韩梅梅" in page and "<svg" in page
    assert '<p class="kpi-value">1</p>' in page and "500.00" in page  # one gold in Hangzhou; avg
    narrowed = client.get(
        "/app/s/customer-desk/b/2/", {"b2.segment": "hangzhou-gold"}
    ).content.decode()
    assert "韩梅梅" in narrowed and "Li Lei" not in narrowed
