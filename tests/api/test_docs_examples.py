"""docs/graphql.md: its curl and Python examples run against the test server, and the page
shows exactly the files in docs/examples/graphql/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tessera.records import service as records

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples" / "graphql"


def fenced(language: str) -> list[str]:
    page = (DOCS / "graphql.md").read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", page, re.M | re.S)


def test_the_page_shows_the_example_files():
    assert (EXAMPLES / "customers.sh").read_text(encoding="utf-8") in fenced("sh")
    assert (EXAMPLES / "create_customer.py").read_text(encoding="utf-8") in fenced("python")


def test_the_examples_run(live_server, shop, admin_token):
    mei = records.create(
        "customer", {"name": "Lin", "city": "Hangzhou", "level": "gold", "total_spent": 900}
    )
    records.create("customer", {"name": "Wu", "city": "Hangzhou", "level": "bronze"})
    for day in (1, 2, 3, 4):
        records.create(
            "order",
            {"customer": mei.pk, "total": day * 10, "placed_at": f"2024-03-0{day}T10:00:00Z"},
        )
    env = {**os.environ, "TESSERA_URL": live_server.url, "TESSERA_TOKEN": admin_token}

    shell = subprocess.run(
        ["sh", str(EXAMPLES / "customers.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert shell.returncode == 0, shell.stderr
    answer = json.loads(shell.stdout)["data"]["customers"]
    assert answer["totalCount"] == 1
    node = answer["edges"][0]["node"]
    assert node["name"] == "Lin" and node["total_spent"] == 900
    assert [o["total"] for o in node["orders"]["nodes"]] == [40, 30, 20]

    python = subprocess.run(
        [sys.executable, str(EXAMPLES / "create_customer.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert python.returncode == 0, python.stderr
    lines = python.stdout.splitlines()
    assert lines[0] == "[('$.email', 'format')]"
    assert lines[1].endswith("'version': 2, 'points': 100}")


def test_the_graphql_snippets_parse():
    from graphql import parse

    for snippet in fenced("graphql"):
        parse(snippet)
