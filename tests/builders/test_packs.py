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
