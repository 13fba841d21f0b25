"""docs/calendars.md: its calendar loads through the CLI as the page says, and every deadline
in its table is what Tessera computes; its refusal table names real paths and codes."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.timers.calendars import calendar_for, deadline

PAGE = Path(__file__).resolve().parents[2] / "docs" / "calendars.md"
ROW = re.compile(
    r"^\| `(\d{4}-\d\d-\d\d \d\d:\d\d)`[^|]*\| `(P[0-9A-Z]+)` \| `(\d{4}-\d\d-\d\d \d\d:\d\d)`",
    re.M,
)


def fenced(language: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def test_the_page_calendar_loads_and_its_deadlines_hold(db, tmp_path):
    (document,) = [json.loads(block) for block in fenced("json")]
    path = tmp_path / "cs-shanghai.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert "./manage.py definitions load cs-shanghai.json --publish" in fenced("sh")[0]
    out = io.StringIO()
    call_command("definitions", "load", str(path), "--publish", stdout=out, stderr=io.StringIO())
    assert "published calendar cs-shanghai v1" in out.getvalue()

    zone = calendar_for("cs-shanghai").zone
    assert zone == ZoneInfo("Asia/Shanghai")
    rows = ROW.findall(PAGE.read_text(encoding="utf-8"))
    assert len(rows) == 12
    for received, within, due in rows:
        start = dt.datetime.fromisoformat(received).replace(tzinfo=zone)
        expected = dt.datetime.fromisoformat(due).replace(tzinfo=zone)
        got = deadline(start, within, calendar="cs-shanghai")
        assert got == expected, (received, within, got.astimezone(zone))
    start = dt.datetime(2024, 5, 6, 10, tzinfo=zone)
    assert deadline(start, "P1D", calendar=None) == start + dt.timedelta(hours=24)


def test_the_refusals_the_page_lists_are_the_real_ones(db):
    text = PAGE.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| [^|]+ \| `([^`]+)`[^|]*\| `([a-z_]+)`", text, re.M))
    body = {
        "timezone": "Mars/Olympus",
        "hours": {
            "mon": [["09:00", "25:00"]],
            "tue": [["18:00", "09:00"]],
            "wed": [["09:00", "12:00"], ["11:00", "13:00"]],
        },
        "holidays": ["2024-02-30", "2024-10-01"],
        "working_days": {"2024-02-31": "mon", "2024-10-01": "mon", "2024-10-02": "sun"},
    }
    with pytest.raises(ValidationFailed) as refused:
        definitions.save_and_publish("calendar", "broken", body)
    found = {(e.path, e.code) for e in refused.value.errors}
    with pytest.raises(ValidationFailed) as empty:
        definitions.save_and_publish("calendar", "empty", {"timezone": "UTC", "hours": {}})
    found |= {(e.path, e.code) for e in empty.value.errors}
    assert found == listed - {("$.hours.mon[0][0]", "pattern")}
