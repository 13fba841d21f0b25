"""Importing CSV and Excel: mapping suggestion, conversion, reports, dry run, upsert."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import Workbook

from tessera.exchange import importer, jobs
from tessera.exchange.checking import PlanRefused
from tessera.exchange.mapping import suggest_mapping
from tessera.exchange.models import ImportStatus
from tessera.exchange.reading import FileProblem
from tessera.records import service as records
from tessera.records.models import BulkCreation, Record, RecordChange
from tests.exchange.conftest import SHOP_CUSTOMER, write

CUSTOMERS_CSV = """姓名,手机,E-mail,City,生日,会员等级,累计消费,积分,备注
韩梅梅,138 0013 8000,MeiMei@Example.com,Hangzhou,1995/4/12,金卡,"¥3,899.50",1200,VIP
Li Lei,+86 139-0013-9000,lilei@example.com,Shanghai,1990年3月5日,silver,$120,80,
Wang Fang,13700137000,,Beijing,2001-12-01,Gold,0,0,new
"""


def test_mapping_is_suggested_from_keys_labels_and_types_in_both_languages():
    header = ["姓名", "手机", "E-mail", "City", "生日", "会员等级", "Total Spent!", "积分", "备注"]
    assert suggest_mapping(header, SHOP_CUSTOMER) == {
        "姓名": "name",
        "手机": "phone",
        "E-mail": "email",
        "City": "city",
        "生日": "birthday",
        "会员等级": "level",
        "Total Spent!": "total_spent",
        "积分": "points",
    }
    # type words reach the only field of that type; a field takes one column at most
    assert suggest_mapping(["Mobile phone", "电话"], SHOP_CUSTOMER) == {"Mobile phone": "phone"}
    assert suggest_mapping(["VIP", "tags"], SHOP_CUSTOMER) == {"VIP": "vip", "tags": "tags"}


def test_a_clean_file_imports_with_every_value_converted(shop, tmp_path):
    path = write(tmp_path / "c.csv", CUSTOMERS_CSV)
    shown = importer.preview(str(path), "customer")
    assert shown.mapping["手机"] == "phone" and "备注" not in shown.mapping
    assert shown.rows[0]["data"]["phone"] == "+8613800138000"
    report = importer.dry_run(str(path), "customer", shown.mapping, ["phone"])
    assert (report.total, report.created, report.rejected) == (3, 3, 0)
    assert Record.objects.count() == 0  # a dry run writes nothing

    job = jobs.create_job(path, "customer", shown.mapping, key_fields=["phone"])
    job = importer.run(job)
    assert job.status == ImportStatus.DONE and (job.created, job.rejected) == (3, 0)
    by_phone = {r.data["phone"]: r.data for r in Record.objects.filter(object_key="customer")}
    assert by_phone["+8613800138000"] == {
        "name": "韩梅梅",
        "phone": "+8613800138000",
        "email": "meimei@example.com",
        "city": "Hangzhou",
        "birthday": "1995-04-12",
        "level": "gold",
        "total_spent": 3899.5,
        "points": 1200,
    }
    assert by_phone["+8613900139000"]["birthday"] == "1990-03-05"
    assert by_phone["+8613900139000"]["total_spent"] == 120
    assert by_phone["+8613700137000"]["level"] == "gold"
    assert "email" not in by_phone["+8613700137000"]
    runs = BulkCreation.objects.filter(comment=f"import #{job.pk}")
    assert sum(run.last_id - run.first_id + 1 for run in runs) == 3


BAD_CSV = """name,phone,email,birthday,level,points
Good One,13800000001,good@example.com,2000-01-01,gold,10
Bad Date,13800000002,bad@example.com,2024/13/45,gold,10
,13800000003,noname@example.com,2000-01-01,silver,5
Bad Many,12,not-an-email,2000-01-01,diamond,-3
Good Two,13800000005,two@example.com,,bronze,0
"""


def test_bad_rows_are_reported_by_row_column_and_reason_and_a_dry_run_writes_nothing(
    shop, tmp_path
):
    path = write(tmp_path / "bad.csv", BAD_CSV)
    mapping = {c: c for c in ["name", "phone", "email", "birthday", "level", "points"]}
    report = importer.dry_run(str(path), "customer", mapping, ["phone"])
    assert (report.total, report.created, report.rejected) == (5, 2, 3)
    found = {(e.row, e.column, e.code) for e in report.errors}
    assert (3, "birthday", "convert") in found
    assert (4, "name", "required") in found
    assert {(5, "phone", "convert"), (5, "level", "convert")} <= found
    message = next(e.message for e in report.errors if (e.row, e.column) == (3, "birthday"))
    assert "2024/13/45" in message
    assert Record.objects.count() == 0 and RecordChange.objects.count() == 0

    job = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["phone"]))
    assert (job.created, job.rejected) == (2, 3)
    rejected = {r.row: r for r in job.rejected_rows.all()}
    assert sorted(rejected) == [3, 4, 5]
    assert rejected[3].cells[3] == "2024/13/45"
    assert {e["column"] for e in rejected[5].errors} >= {"phone", "email", "level", "points"}


def test_upsert_by_phone_updates_the_record_that_has_that_phone(shop, tmp_path):
    kept = records.create(
        "customer", {"name": "Han", "phone": "+8613800138000", "city": "Ningbo", "points": 5}
    )
    path = write(
        tmp_path / "u.csv",
        "name,phone,city\nHan Meimei,138-0013-8000,Hangzhou\nNew One,13900139000,Suzhou\n",
    )
    mapping = {"name": "name", "phone": "phone", "city": "city"}
    job = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["phone"]))
    assert (job.created, job.updated, job.rejected) == (1, 1, 0)
    kept.refresh_from_db()
    assert kept.data == {
        "name": "Han Meimei",
        "phone": "+8613800138000",
        "city": "Hangzhou",
        "points": 5,  # not in the file: kept
    }
    assert kept.version == 2
    assert Record.objects.filter(object_key="customer").count() == 2
    # the same file again changes nothing
    again = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["phone"]))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    kept.refresh_from_db()
    assert kept.version == 2


def test_rows_repeating_a_key_update_one_record_and_a_unique_clash_is_a_row_error(shop, tmp_path):
    records.create("customer", {"name": "Owner", "email": "taken@example.com"})
    path = write(
        tmp_path / "r.csv",
        "name,phone,email\nA,13800000001,a@example.com\nA again,13800000001,\n"
        "B,13800000002,taken@example.com\nC,13800000003,a@example.com\n",
    )
    mapping = {"name": "name", "phone": "phone", "email": "email"}
    job = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["phone"]))
    assert (job.created, job.rejected) == (1, 2)
    a = Record.objects.get(object_key="customer", data__phone="+8613800000001")
    assert a.data["name"] == "A again" and a.data["email"] == "a@example.com"
    errors = {r.row: r.errors for r in job.rejected_rows.all()}
    assert "already has this email" in errors[4][0]["message"]
    assert "row 2 of this file has the same email" in errors[5][0]["message"]


def test_an_upsert_key_must_be_unique_and_mapped(shop, tmp_path):
    path = write(tmp_path / "k.csv", "name,city\nA,B\n")
    with pytest.raises(PlanRefused) as refused:
        jobs.create_job(path, "customer", {"name": "name", "city": "city"}, key_fields=["city"])
    assert [e.path for e in refused.value.errors] == ["$.key"]
    with pytest.raises(PlanRefused) as refused:
        jobs.create_job(path, "customer", {"name": "nope", "x": "city"}, key_fields=["phone"])
    paths = {e.path for e in refused.value.errors}
    assert paths == {"$.mapping['name']", "$.mapping['x']", "$.key[0]"}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030", "utf-8"])
def test_encodings_are_detected(shop, tmp_path, encoding):
    path = write(tmp_path / "e.csv", "姓名,城市\n韩梅梅,杭州\n李雷,上海\n", encoding)
    report = importer.dry_run(str(path), "customer")
    assert (report.created, report.rejected) == (2, 0)
    job = importer.run(jobs.create_job(path, "customer", {"姓名": "name", "城市": "city"}))
    assert job.created == 2
    assert sorted(r.data["city"] for r in Record.objects.all()) == ["上海", "杭州"]


def test_an_excel_workbook_imports_with_typed_cells(shop, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Mobile", "Date of birth", "Points", "Total spent", "VIP"])
    sheet.append(["Ana", 13800138000, dt.datetime(1990, 3, 5), 12, 99.5, True])
    sheet.append(["Bo", "+44 20 7946 0958", "2001/2/3", 3.0, "1,200", "否"])
    path = tmp_path / "c.xlsx"
    book.save(path)
    shown = importer.preview(str(path), "customer")
    assert set(shown.mapping.values()) == {
        "name",
        "phone",
        "birthday",
        "points",
        "total_spent",
        "vip",
    }
    job = importer.run(jobs.create_job(path, "customer", shown.mapping, key_fields=["phone"]))
    assert (job.created, job.rejected) == (2, 0)
    bo = Record.objects.get(data__name="Bo").data
    assert bo == {
        "name": "Bo",
        "phone": "+442079460958",
        "birthday": "2001-02-03",
        "points": 3,
        "total_spent": 1200,
        "vip": False,
    }
    assert Record.objects.get(data__name="Ana").data["birthday"] == "1990-03-05"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("name,city\nA,B,C\n", "ragged"),
        ("name,city\nA\n", "ragged"),
        ("name,city\n" + "A," + "x" * 70_000 + "\n", "cell_too_large"),
        ("", "empty"),
        ("name,name\nA,B\n", "duplicate_column"),
    ],
)
def test_a_broken_file_is_refused_whole_naming_the_row(shop, tmp_path, text, code):
    path = write(
        tmp_path / "b.csv",
        "name,city\nFine,Here\n" + text.split("\n", 1)[1] if text.startswith("name,city") else text,
    )
    if code in ("empty", "duplicate_column"):
        with pytest.raises(FileProblem) as problem:
            jobs.create_job(path, "customer", {"name": "name"})
        assert problem.value.errors[0].code == code
        return
    job = jobs.create_job(path, "customer", {"name": "name", "city": "city"})
    job = importer.run(job)
    assert job.status == ImportStatus.FAILED
    assert job.errors[0]["code"] == code and job.errors[0]["path"] == "$.rows[3]"
    assert Record.objects.count() == 0  # the good row before it was not written either


def test_an_exported_file_comes_back_by_id(shop, tmp_path):
    ana = records.create("customer", {"name": "Ana", "points": 1})
    bo = records.create("customer", {"name": "Bo", "points": 2})
    path = write(
        tmp_path / "back.csv",
        f"id,name,points\n{ana.pk},Ana Li,10\n#{bo.pk},Bo,2\n999999,Ghost,1\n,Nobody,1\n",
    )
    mapping = {"id": "id", "name": "name", "points": "points"}
    job = importer.run(jobs.create_job(path, "customer", mapping, key_fields=["id"]))
    assert (job.created, job.updated, job.unchanged, job.rejected) == (0, 1, 1, 2)
    ana.refresh_from_db()
    assert ana.data == {"name": "Ana Li", "points": 10} and ana.version == 2
    errors = {r.row: r.errors[0] for r in job.rejected_rows.all()}
    assert errors[4]["code"] == "not_found" and errors[5]["code"] == "key"
    assert Record.objects.count() == 2
    with pytest.raises(PlanRefused) as refused:
        jobs.create_job(path, "customer", mapping, key_fields=["name"])
    assert refused.value.errors[0].code == "id_not_key"


def test_upsert_by_a_combination_of_fields_updates_the_record_holding_both(
    publish_object, tmp_path
):
    """The key is an x-unique-together group: a store's member number, not either alone."""
    publish_object(
        "member",
        {
            "x-unique-together": [["store", "number"]],
            "properties": {
                "store": {"x-type": "string"},
                "number": {"x-type": "integer"},
                "name": {"x-type": "string"},
            },
        },
    )
    kept = records.create("member", {"store": "Hangzhou", "number": 7, "name": "Old"})
    other = records.create("member", {"store": "Ningbo", "number": 7, "name": "Other"})
    path = write(
        tmp_path / "m.csv",
        "store,number,name\nHangzhou,7,Han Meimei\nNingbo,8,New\nHangzhou,8,Also new\n",
    )
    mapping = {"store": "store", "number": "number", "name": "name"}
    job = importer.run(jobs.create_job(path, "member", mapping, key_fields=["number", "store"]))
    assert (job.created, job.updated, job.rejected) == (2, 1, 0)
    kept.refresh_from_db()
    other.refresh_from_db()
    assert kept.data == {"store": "Hangzhou", "number": 7, "name": "Han Meimei"}
    assert kept.version == 2
    assert other.data["name"] == "Other" and other.version == 1
    stored = {
        (r.data["store"], r.data["number"]) for r in Record.objects.filter(object_key="member")
    }
    assert stored == {("Hangzhou", 7), ("Ningbo", 7), ("Ningbo", 8), ("Hangzhou", 8)}
    # one field of the group alone is no upsert key
    with pytest.raises(PlanRefused) as refused:
        jobs.create_job(path, "member", mapping, key_fields=["number"])
    assert [e.path for e in refused.value.errors] == ["$.key"]
