"""A pack's settings files (RFM, lifecycle): shown in the plan, refused by file and JSON path,
applied at install and scored at once, kept on upgrade, removed on uninstall."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from templates_lib import service
from templates_lib.library import BUILTIN_DIR
from templates_lib.problems import PackRefused
from tessera.segments import rfm
from tessera.segments.models import ScoringSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def core(db):
    """ecommerce-core without its sample shop (fast); the customer object is what counts."""
    service.install(BUILTIN_DIR / "ecommerce_core", sample=False)


def copy_pack(tmp_path: Path, folder: str = "rfm_lifecycle") -> Path:
    target = tmp_path / folder
    shutil.copytree(BUILTIN_DIR / folder, target)
    return target


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def test_the_plan_lists_the_settings_and_install_applies_them(core):
    plan = service.plan("rfm-lifecycle")
    assert "  settings: rfm of customer from settings/rfm.json" in plan.render().splitlines()
    assert not ScoringSettings.objects.exists()  # the plan's rehearsal was rolled back
    service.install("rfm-lifecycle")
    stored = {s.kind: s.body for s in ScoringSettings.objects.all()}
    shipped = json.loads((BUILTIN_DIR / "rfm_lifecycle/settings/rfm.json").read_text())
    assert stored["rfm"] == shipped and set(stored) == {"rfm", "lifecycle"}
    assert ScoringSettings.objects.get(kind="rfm").last_run_at is not None  # scored at once


def test_a_bad_settings_file_is_refused_by_file_and_path(core, tmp_path):
    pack = copy_pack(tmp_path)
    edit(pack / "settings/rfm.json", lambda d: d["fields"].update(r="recency_score"))
    with pytest.raises(PackRefused) as refused:
        service.install(pack)
    [problem] = refused.value.problems
    assert (problem.file, problem.path) == ("settings/rfm.json", "$.fields.r")
    assert "recency_score" in problem.message
    assert not ScoringSettings.objects.exists()


def test_unknown_types_missing_and_unlisted_files_are_refused(core, tmp_path):
    pack = copy_pack(tmp_path)
    edit(pack / "manifest.json", lambda d: d["settings"][0].update(type="nps"))
    edit(pack / "manifest.json", lambda d: d["settings"][1].update(file="settings/gone.json"))
    with pytest.raises(PackRefused) as refused:
        service.install(pack)
    found = {(p.file, p.path, p.code) for p in refused.value.problems}
    assert ("manifest.json", "$.settings[0].type", "unknown_type") in found
    assert ("manifest.json", "$.settings[1].file", "missing_file") in found
    assert ("settings/lifecycle.json", "$", "unknown_file") in found  # no longer listed


def test_an_upgrade_keeps_tuned_settings_and_uninstall_removes_them(core, tmp_path):
    service.install("rfm-lifecycle")
    tuned = {**ScoringSettings.objects.get(kind="rfm").body, "every": "PT12H"}
    rfm.configure("customer", tuned)
    newer = copy_pack(tmp_path)
    edit(newer / "manifest.json", lambda d: d.update(version="1.0.1"))
    service.upgrade(newer)
    assert ScoringSettings.objects.get(kind="rfm").body["every"] == "PT12H"
    service.uninstall("rfm-lifecycle")
    assert not ScoringSettings.objects.exists()
