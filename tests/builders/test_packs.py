"""Template packs from the admin: listed, planned, installed, uninstalled."""

from __future__ import annotations

from pathlib import Path

from templates_lib.models import InstalledPack
from tessera.definitions import service

EXAMPLES = Path(__file__).resolve().parents[2] / "templates_lib" / "examples"


def test_plan_install_and_uninstall_a_pack(admin_client, settings):
    settings.TESSERA_PACKS = {**settings.TESSERA_PACKS, "dirs": [str(EXAMPLES)]}
    listing = admin_client.get("/admin/tessera/packs/").content.decode()
    assert "hello-shop" in listing and "Plan the install" in listing
    plan = admin_client.get("/admin/tessera/packs/hello-shop/plan/").content.decode()
    assert "Nothing has been written yet" in plan and "object customer" in plan
    assert not InstalledPack.objects.exists()
    response = admin_client.post("/admin/tessera/packs/hello-shop/install/", {"sample": "on"})
    assert response.status_code == 302
    assert InstalledPack.objects.filter(key="hello-shop").exists()
    assert service.current("screen", "customers") is not None
    listing = admin_client.get("/admin/tessera/packs/").content.decode()
    assert "Uninstall…" in listing
    page = admin_client.get("/admin/tessera/packs/hello-shop/uninstall/").content.decode()
    assert "Also delete the records" in page
    assert admin_client.post("/admin/tessera/packs/hello-shop/uninstall/").status_code == 302
    assert not InstalledPack.objects.exists()
    assert service.current("screen", "customers") is None


def test_plan_and_take_an_upgrade_from_the_admin(admin_client, settings, tmp_path):
    """A newer version in the library: listed as an upgrade, planned, upgraded, logged."""
    import json
    import shutil

    library = tmp_path / "library"
    shutil.copytree(EXAMPLES / "hello-shop", library / "hello-shop")
    settings.TESSERA_PACKS = {**settings.TESSERA_PACKS, "dirs": [str(library)]}
    assert admin_client.post("/admin/tessera/packs/hello-shop/install/").status_code == 302
    manifest = library / "hello-shop" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["version"] = "1.1.0"
    manifest.write_text(json.dumps(data))
    segment = library / "hello-shop" / "definitions" / "segment" / "big-spenders.json"
    body = json.loads(segment.read_text())
    body["condition"]["value"] = 2000
    segment.write_text(json.dumps(body))
    listing = admin_client.get("/admin/tessera/packs/").content.decode()
    assert "Plan the upgrade" in listing
    plan = admin_client.get("/admin/tessera/packs/hello-shop/plan/").content.decode()
    assert "big-spenders" in plan
    assert admin_client.post("/admin/tessera/packs/hello-shop/install/").status_code == 302
    assert InstalledPack.objects.get(key="hello-shop").version == "1.1.0"
    assert service.current("segment", "big-spenders").body["condition"]["value"] == 2000
    listing = admin_client.get("/admin/tessera/packs/").content.decode()
    assert "1.0.0 → 1.1.0" in listing
