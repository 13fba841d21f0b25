"""docs/crm.md stays true: its table names definitions and screens the packs hold, every
function of the e-commerce CRM articles has a row, and its KPI example is the dashboard's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from templates_lib.library import BUILTIN_DIR

DOC = Path(__file__).resolve().parents[2] / "docs" / "crm.md"
FUNCTIONS = [  # the rows of ../shared/CRM-FUNCTIONS.md, the articles' list
    "customer data management",
    "customer grouping",
    "marketing automation",
    "personalised recommendation",
    "real-time order tracking",
    "inventory link",
    "customer service",
    "sales management",
    "membership",
    "analytics and reports",
    "integration",
    "security and privacy",
    "adoption",
]
FOLDERS = {
    "ecommerce-core": "ecommerce_core",
    "rfm-lifecycle": "rfm_lifecycle",
    "after-sales": "after_sales",
    "lifecycle-campaigns": "lifecycle_campaigns",
    "crm-dashboards": "crm_dashboards",
}


def manifest(pack: str) -> dict:
    return json.loads((BUILTIN_DIR / FOLDERS[pack] / "manifest.json").read_text())


def table_rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## What each e-commerce CRM function maps to")[1].split("\n## ")[0]
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| function") and "---" not in line
    ]


def test_every_function_has_a_row_naming_real_packs_definitions_and_screens():
    rows = table_rows()
    assert [r[0] for r in rows] == FUNCTIONS
    screens = set(manifest("crm-dashboards")["definitions"]["screen"])
    everything = {
        (kind, key): pack
        for pack in FOLDERS
        for kind, keys in manifest(pack)["definitions"].items()
        for key in keys
    }
    named = 0
    for function, pack, definitions, screen in rows:
        if pack not in ("—", "all"):
            assert pack in FOLDERS, function
        for kind, key in re.findall(
            r"`(object|segment|campaign|workflow|calendar|screen):([a-z0-9-_]+)`", definitions
        ):
            assert (kind, key) in everything, f"{function}: {kind}:{key}"
            named += 1
        for key in re.findall(r"`(crm-[a-z-]+)`", screen):
            assert key in screens, f"{function}: screen {key}"
    assert named > 30


def test_the_kpi_example_is_the_dashboards_block():
    text = DOC.read_text(encoding="utf-8")
    example = text.split("<!-- example: repurchase rate -->")[1].split("```json")[1].split("```")[0]
    block = json.loads(example)
    screen = json.loads(
        (BUILTIN_DIR / "crm_dashboards/definitions/screen/crm-kpis.json").read_text()
    )
    assert block in screen["blocks"]
