"""docs/actions.md holds: every action example on the page checks clean and runs, and the
plugin example is the real package, installed with pip and run as an action.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from django.contrib.auth.models import Group
from django.core.management import call_command

from tessera import plugins
from tessera.actions import service as actions
from tessera.actions.builtins import BUILTIN_TYPES
from tessera.actions.models import OutboxStatus
from tessera.records import service as records
from tessera.records.models import Record

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGE = (DOCS / "actions.md").read_text(encoding="utf-8")
POINTS = ROOT / "tests" / "plugin_pkg" / "tessera_test_plugin" / "points.py"


def fenced(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE, re.M | re.S)


def page_actions() -> list[dict]:
    found = []
    for snippet in fenced("json"):
        value = json.loads(snippet)
        if isinstance(value, dict) and "type" in value and set(value) <= {"type", "params"}:
            found.append(value)
    return found


def load_examples() -> None:
    files = [DOCS / "examples" / "customer.json", DOCS / "examples" / "actions" / "follow_up.json"]
    call_command("definitions", "load", *map(str, files), "--publish", stdout=io.StringIO())


def test_every_builtin_is_shown_and_every_snippet_parses():
    shown = {action["type"] for action in page_actions()}
    builtin = {t.type for t in BUILTIN_TYPES}
    assert builtin <= shown, f"docs/actions.md shows no example of {builtin - shown}"
    for snippet in fenced("python"):
        compile(snippet, "docs/actions.md", "exec")


def test_the_examples_on_the_page_check_clean_and_run(
    db, smtp_settings, http_server, dispatched, django_user_model
):
    load_examples()
    care = Group.objects.create(name="customer-care")
    agent = django_user_model.objects.create_user("mei", "mei@shop.example", "pw-1234567")
    agent.groups.add(care)
    customer = records.create(
        "customer",
        {"name": "韩梅梅", "email": "meimei@example.com", "points": 1200, "tags": ["newsletter"]},
    )

    examples = [a for a in page_actions() if a["type"] in {t.type for t in BUILTIN_TYPES}]
    for i, action in enumerate(examples):
        where = f"$.example[{i}]"
        assert actions.check(action, object_key="customer", path=where) == [], action
        action = copy.deepcopy(action)
        if action["type"] == "webhook":  # the page's URL, pointed at the local server
            action["params"]["url"] = http_server.url + "/crm/customers"
        entry = actions.enqueue(f"docs:{i}", action, object_key="customer", record_id=customer.pk)
        actions.deliver(entry.pk)
        entry.refresh_from_db()
        assert entry.status == OutboxStatus.SENT, (action, entry.last_error)

    customer.refresh_from_db()
    assert customer.data["level"] == "gold" and "last_seen_at" in customer.data
    assert customer.data["tags"] == ["vip"]  # added vip, removed newsletter
    follow_up = Record.objects.get(object_key="follow_up")
    assert follow_up.data["customer"] == customer.pk
    assert follow_up.data["contact"] == "meimei@example.com"
    (mail,) = smtp_settings.received
    assert mail.recipients == ["meimei@example.com", "mei@shop.example"]
    assert mail.message["Subject"] == "Welcome, 韩梅梅"
    assert "you have 1200 points." in mail.text()
    (hook,) = http_server.received
    assert json.loads(hook.body) == {
        "customer": customer.pk,
        "email": "meimei@example.com",
        "event": "welcome",
    }
    webhook_example = next(i for i, a in enumerate(examples) if a["type"] == "webhook")
    assert hook.headers["X-Shop"] == "main"
    assert hook.headers["Tessera-Delivery"] == f"docs:{webhook_example}"


def test_the_plugin_code_on_the_page_is_the_package():
    source = POINTS.read_text(encoding="utf-8").splitlines()
    (shown,) = [s for s in fenced("python") if "class AwardPoints" in s]
    for line in shown.splitlines():
        assert not line.strip() or line in source, f"not in points.py: {line}"
    init = (POINTS.parent / "__init__.py").read_text(encoding="utf-8")
    assert "    registries.actions.register(AwardPoints())" in init.splitlines()


def test_a_pip_installed_plugin_provides_an_action(db, tmp_path):
    """Installed with pip, the package's entry point gives every process ``award_points``."""
    from tests.test_plugins import PLUGIN_DIST, canonical, install_test_plugin

    install_test_plugin()
    probe = (
        "import json, django\n"
        "django.setup()\n"
        "from tessera import plugins\n"
        "item = plugins.actions.get('award_points')\n"
        "print(json.dumps({'origin': plugins.actions.origin('award_points'),\n"
        "    'module': type(item).__module__, 'transactional': item.transactional}))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tessera.settings",
        "TESSERA_VAR_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert canonical(found["origin"]) == PLUGIN_DIST
    assert found == {**found, "module": "tessera_test_plugin.points", "transactional": True}


def test_the_plugin_action_runs_from_a_definition(db, dispatched):
    from tests.test_plugins import install_test_plugin

    install_test_plugin()
    from tessera_test_plugin.points import AwardPoints  # the installed copy

    load_examples()
    customer = records.create("customer", {"name": "Li Lei", "points": 5})
    (example,) = [a for a in page_actions() if a["type"] == "award_points"]
    with plugins.actions.register_temporarily(AwardPoints()):
        assert actions.check(example, object_key="customer", path="$") == []
        bad = {"type": "award_points", "params": {"points": 0, "field": "name"}}
        assert [(e.path, e.code) for e in actions.check(bad, object_key="customer", path="$")] == [
            ("$.params.points", "minimum")
        ]
        bad["params"]["points"] = 1
        assert [(e.path, e.code) for e in actions.check(bad, object_key="customer", path="$")] == [
            ("$.params.field", "field_type")
        ]
        entry = actions.enqueue(
            "run:1:award:1", example, object_key="customer", record_id=customer.pk
        )
        again = actions.enqueue(
            "run:1:award:1", example, object_key="customer", record_id=customer.pk
        )
    customer.refresh_from_db()
    assert entry.status == OutboxStatus.SENT and entry.result == {"points": 105}
    assert again.pk == entry.pk and customer.data["points"] == 105  # once
