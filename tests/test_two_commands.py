"""The README's two commands: they are what the README says, CI exists, and `up` really runs.

The smoke test starts ``./tessera up`` as a person would (embedded database and broker, in a
temporary var dir, on a free port), waits until /health shows the worker and the tick alive,
then presses Ctrl-C (SIGINT to its process group) and checks that all three processes stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UP_TIMEOUT = 150.0  # ~30 s on a quiet machine; a fresh SQLite migrate is most of it
# The script gives its children 20 s to stop, then kills them; a loaded CI machine needs slack.
STOP_TIMEOUT = 60.0


def fenced_blocks(markdown: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^```[^\n]*\n(.*?)^```", markdown, re.M | re.S)]


def test_readme_starts_with_the_two_commands():
    blocks = fenced_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 2
    assert blocks[0].strip() == "./tessera up"
    assert blocks[1].strip() == "./tessera test"


@pytest.mark.parametrize("path", ["tessera", ".ci/run"])
def test_scripts_exist_and_are_executable(path):
    script = ROOT / path
    assert script.is_file()
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()


def test_ci_runs_the_readme_test_command_on_both_databases():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./tessera install" in ci
    assert ci.count("./tessera test") >= 2
    assert "DATABASE_URL=postgres://" in ci
    assert "CELERY_BROKER_URL=redis://" in ci


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.mark.worker
def test_up_runs_web_worker_and_beat_until_ctrl_c(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        # the embedded default: no server-backed database or broker, whatever the suite runs on
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
        and not k.startswith(("CELERY_", "DJANGO_"))
    }
    env.update(TESSERA_VAR_DIR=str(tmp_path / "var"), TESSERA_PORT=str(port))
    env.update(TESSERA_TICK_SECONDS="1", TESSERA_ADMIN_PASSWORD="smoke-test-pw")
    # The packs install in full; a small sample shop keeps the smoke test quick.
    env.update(TESSERA_DEMO_CUSTOMERS="50")
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / "tessera"), "up"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like a terminal's foreground job: Ctrl-C hits this group
            # A terminal's job takes SIGINT; a job a script put in the background (CI runs
            # the suite so) starts with it ignored, and bash cannot trap an ignored signal.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        health = wait_for_health(proc, port, log)
        assert health["database"] == "ok"
        assert health["processes"]["worker"]["alive"] is True
        assert health["processes"]["tick"]["alive"] is True
        text = wait_for_text(log, "Tessera is up", 15)
        assert "dev admin: login 'admin', password 'smoke-test-pw' (created)" in text
        for url in ("/admin/", "/django-admin/", "/health"):
            assert f"http://127.0.0.1:{port}{url}" in text
        children = started_children(log)
        assert len(children) == 3
        assert_crm_screens_answer(text, port)

        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        try:
            assert proc.wait(STOP_TIMEOUT) == 0, log.read_text()
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {STOP_TIMEOUT:.0f} s after Ctrl-C:\n{log.read_text()}")
        time.sleep(0.5)
        left = [pid for pid in children if group_alive(pid)]
        assert not left, f"still running after Ctrl-C: {left}\n{log.read_text()}"
        assert "[tessera] stopped" in log.read_text()
    finally:  # on failure too: let the script stop its children, then kill what is left
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_TIMEOUT)
        for pgid in [proc.pid, *started_children(log)]:
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
        proc.wait()


def assert_crm_screens_answer(text: str, port: int) -> None:
    """The CRM URLs the command prints open, for the dev admin, on the installed packs."""
    import requests

    base = f"http://127.0.0.1:{port}"
    crm = re.findall(rf"{re.escape(base)}(/app/s/[\w-]+/)", text)
    assert len(crm) == 4, text
    browser = requests.Session()
    browser.get(f"{base}/app/login/", timeout=30)
    login = browser.post(
        f"{base}/app/login/",
        data={
            "username": "admin",
            "password": "smoke-test-pw",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/app/login/"},
        timeout=30,
        allow_redirects=False,
    )
    assert login.status_code == 302, login.text[:2000]
    for path in crm:
        page = browser.get(f"{base}{path}", timeout=60)
        assert page.status_code == 200, (path, page.text[:2000])
        assert "<table" in page.text or "<svg" in page.text or "kanban" in page.text, path


def started_children(log: Path) -> list[int]:
    """The process groups that ``./tessera up`` reported starting (each child leads one)."""
    return [
        int(p) for p in re.findall(r"started (?:web|worker|beat) \(pid (\d+)\)", log.read_text())
    ]


def wait_for_text(log: Path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while text not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    return log.read_text()


def wait_for_health(proc: subprocess.Popen, port: int, log: Path) -> dict:
    deadline = time.monotonic() + UP_TIMEOUT
    body: dict = {}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"./tessera up exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                body = json.load(r)
        except OSError:
            body = {}
        beats = body.get("processes", {})
        if all(beats.get(name, {}).get("alive") for name in ("worker", "tick")):
            return body
        time.sleep(0.5)
    pytest.fail(f"/health never showed worker and tick alive (last: {body}):\n{log.read_text()}")
