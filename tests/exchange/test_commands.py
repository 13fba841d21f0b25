"""``manage.py import`` and ``manage.py export``: suggested mapping, dry run, run, rejected
rows written out, exit codes; exports that follow a person's rights."""

from __future__ import annotations

import csv
import io
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from tessera.api.models import ObjectPermission
from tessera.exchange import importer
from tessera.exchange.models import ImportJob
from tessera.records.models import Record
from tests.exchange.conftest import write

CSV = "姓名,手机,生日\n韩梅梅,13800138000,1995/4/12\n坏日期,13900139000,1995/13/1\n"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_dry_run_then_run_with_rejected_rows_written(shop, tmp_path):
    path = write(tmp_path / "c.csv", CSV)
    shown = run("import", str(path), "--object", "customer", "--key", "phone", "--dry-run")
    assert "姓名 → name" in shown and "手机 → phone" in shown
    assert "would create 1" in shown and "reject 1" in shown and "1995/13/1" in shown
    assert Record.objects.count() == 0
    with pytest.raises(CommandError) as strict:
        run("import", str(path), "--object", "customer", "--dry-run", "--strict")
    assert strict.value.returncode == 3

    rejected = tmp_path / "rejected.csv"
    done = run(
        "import", str(path), "--object", "customer", "--key", "phone", "--rejected", str(rejected)
    )
    assert "1 created" in done and "1 rejected" in done
    rows = list(csv.reader(io.StringIO(rejected.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["row", "errors", "姓名", "手机", "生日"]
    assert rows[1][0] == "3" and "生日" in rows[1][1]
    assert rows[1][2:] == ["坏日期", "13900139000", "1995/13/1"]
    job = ImportJob.objects.get()
    assert job.rows_done == 2 and job.status == "done"


def test_import_refusals_exit_1_with_every_path(shop, tmp_path):
    path = write(tmp_path / "c.csv", CSV)
    with pytest.raises(CommandError) as refused:
        run("import", str(path), "--object", "customer", "--map", "姓名=nope", "--key", "city")
    assert refused.value.returncode == 1
    broken = write(tmp_path / "b.csv", "name,city\na,b,c\n")
    with pytest.raises(CommandError) as refused:
        run("import", str(broken), "--object", "customer", "--map", "name=name")
    assert refused.value.returncode == 1 and Record.objects.count() == 0


def test_export_follows_a_persons_rights(shop, tmp_path, django_user_model):
    run("import", str(write(tmp_path / "c.csv", CSV)), "--object", "customer")
    group = Group.objects.create(name="support")
    ObjectPermission.objects.create(group=group, object_key="customer", read_fields=["name"])
    clerk = django_user_model.objects.create_user("clerk", "c@example.com", "pw-1234567")
    clerk.groups.add(group)
    everything = tmp_path / "all.csv"
    assert "1 row(s)" in run("export", "customer", "-o", str(everything))
    header = everything.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert {"id", "name", "phone", "birthday"} <= set(header)
    limited = tmp_path / "limited.xlsx"
    run("export", "customer", "-o", str(limited), "--as", "clerk")
    rows = list(load_workbook(limited).active.iter_rows(values_only=True))
    assert rows == [("id", "name"), (Record.objects.get().pk, "韩梅梅")]
    with pytest.raises(CommandError):
        run("export", "customer", "-o", str(tmp_path / "x.txt"))


def test_the_import_progress_bar_counts_rows_as_chunks_commit(shop, tmp_path, settings):
    settings.TESSERA_EXCHANGE = {**settings.TESSERA_EXCHANGE, "chunk_rows": 2}
    lines = ["姓名,手机"] + [f"客户{i},1380000{i:04d}" for i in range(5)]
    path = write(tmp_path / "c.csv", "\n".join(lines) + "\n")
    seen: list[int] = []
    real_run = importer.run

    def watched(job, **kwargs):
        shown = kwargs["progress"]

        def progress(current):
            seen.append(current.rows_done)
            shown(current)

        return real_run(job, **{**kwargs, "progress": progress})

    with mock.patch.object(importer, "run", watched):
        done = run("import", str(path), "--object", "customer", "--key", "phone")
    assert seen == [2, 4, 5]  # one step per committed chunk
    assert "5/5" in done and "5 created" in done
