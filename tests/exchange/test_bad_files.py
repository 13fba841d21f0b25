"""Hypothesis makes CSV files people and machines really send (GBK, UTF-8 with a BOM, ragged
rows, huge cells, quotes and line breaks in cells, stray bytes) and sends them through the
upload endpoint (dry run) and through a real import: clear errors by row and path, never a
500, and a refused file writes nothing at all."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.exchange import importer, jobs
from tessera.exchange.checking import PlanRefused
from tessera.exchange.models import ImportStatus
from tessera.exchange.reading import FileProblem
from tessera.records.models import Record, RecordChange

HEADER = ["姓名", "手机", "城市", "积分", "生日"]
ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "gb18030"]
# What GBK can hold as well as UTF-8: a shop's text, not arbitrary code points.
ALPHABET = st.sampled_from([*"abcXYZ 019,\"'\n\r\t;-/.年月日韩梅李雷杭州上海￥：，、", "\u3000"])

cell = st.one_of(
    st.text(ALPHABET, max_size=12),
    st.sampled_from(["13800138000", "+86 139 0013 9000", "12", "1995/4/12", "2024年3月5日", "-3"]),
)
row = st.lists(cell, min_size=4, max_size=6)  # the header has 5: some rows are ragged


@st.composite
def files(draw) -> tuple[bytes, str]:
    rows = draw(st.lists(row, max_size=8))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(rows)))
        rows.insert(at, ["x" * draw(st.sampled_from([10, 70_000]))] + [""] * 4)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    encoding = draw(st.sampled_from(ENCODINGS))
    data = out.getvalue().encode(encoding)
    if draw(st.integers(0, 9)) == 0:  # a stray byte no encoding here reads
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + b"\xff\xfe\x81" + data[cut:]
    return data, encoding


MAPPING = {"姓名": "name", "手机": "phone", "城市": "city", "积分": "points", "生日": "birthday"}


@pytest.fixture
def superuser_token(django_user_model):
    from tessera.api import tokens

    root = django_user_model.objects.create_superuser("root", "r@example.com", "pw-1234567")
    return tokens.issue(root, "t", ["read", "write"])[0]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=files())
def test_generated_files_get_clear_errors_and_partial_imports_never_happen(
    shop, client, superuser_token, tmp_path, sent
):
    data, _encoding = sent
    upload = io.BytesIO(data)
    upload.name = "customers.csv"
    response = client.post(
        "/imports/customer",
        {"file": upload, "dry_run": "1", "key": "phone"},
        HTTP_AUTHORIZATION=f"Bearer {superuser_token}",
    )
    assert response.status_code in (200, 422), response.content[:500]
    body = response.json()
    if response.status_code == 422:
        assert body["errors"] and all(e["path"].startswith("$") for e in body["errors"])
    else:
        for error in body["report"]["errors"]:
            assert error["row"] >= 2 and error["message"]

    path = tmp_path / "customers.csv"
    path.write_bytes(data)
    before = Record.objects.count(), RecordChange.objects.count()
    try:
        job = jobs.create_job(path, "customer", MAPPING, key_fields=["phone"])
    except (FileProblem, PlanRefused) as refused:
        assert refused.errors and refused.errors[0].path.startswith("$")
        assert (Record.objects.count(), RecordChange.objects.count()) == before
        return
    job = importer.run(job)
    assert job.status in (ImportStatus.DONE, ImportStatus.FAILED)
    if job.status == ImportStatus.FAILED:
        error = job.errors[0]
        assert error["path"].startswith("$.rows[") or error["path"] == "$.file"
        assert (Record.objects.count(), RecordChange.objects.count()) == before
    else:
        assert job.rows_done == job.total_rows
        for rejected in job.rejected_rows.all():
            assert rejected.errors and all(e["message"] for e in rejected.errors)
