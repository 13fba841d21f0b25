"""The import's fast paths give what the careful paths give, value for value.

A chunk is converted a column at a time (``Plan.convert_rows``), a CSV file is read and
checked a list of rows at a time (``Table.batches``, ``count``, ``chunks``), plain dates
skip the long pattern, and COPY text is escaped once per chunk. Each is held here to the
row-by-row code it stands for, on generated cells and files.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tessera.exchange import reading
from tessera.exchange.checking import Plan
from tessera.exchange.convert import Options, converter_for, parse_when
from tessera.exchange.reading import FileProblem, open_table
from tessera.exchange.writing import _copy_rows, _copy_text

from .conftest import write

HEADER = ["姓名", "手机", "邮箱", "城市", "生日", "会员等级", "积分", "累计消费", "备注"]
MAPPING = {
    "姓名": "name",
    "手机": "phone",
    "邮箱": "email",
    "城市": "city",
    "生日": "birthday",
    "会员等级": "level",
    "积分": "points",
    "累计消费": "total_spent",
}
CELLS = {
    "姓名": ["韩梅梅", " Li Lei ", "", "  ", "x" * 300, "a\tb"],
    "手机": [
        "13800138000",
        "138 0013 8000",
        "+86 139-0013-9000",
        "1370013",
        "",
        "abc",
        "+1 650 253 0000",
    ],
    "邮箱": ["MeiMei@Example.com", "", "zhao@example", " A@B.CN ", "ｆｕｌｌ@example.com"],
    "城市": ["杭州", "Shanghai", "", " 北京 "],
    "生日": [
        "1995/4/12",
        "1990年3月5日",
        "2001-12-01",
        "1988/2/30",
        "",
        "5/3/2024",
        "0000/1/1",
        "abc",
        "2024.3.5",
        "2024/3-5",
    ],
    "会员等级": ["gold", "金卡", "Silver", "钻石卡", "", "PLATINUM"],
    "积分": ["1200", "0", "-5", "1 200", "abc", "", "12.5", "１２"],
    "累计消费": ["¥3,899.50", "$120", "0", "abc", "", "(12.50)", "RMB 50", "1e3"],
    "备注": ["", "note"],
}
rows_strategy = st.lists(
    st.tuples(*[st.sampled_from(CELLS[column]) | st.text(max_size=6) for column in HEADER]),
    min_size=1,
    max_size=12,
)
FAST = hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture
def plans(shop):
    def make(options=None):
        return Plan("customer", HEADER, MAPPING, ["phone"], options)

    return make


@pytest.mark.django_db
@pytest.mark.parametrize("options", [None, {"empty": "clear"}])
def test_a_chunk_converted_by_columns_is_the_chunk_converted_by_rows(plans, options):
    @FAST
    @given(rows=rows_strategy)
    def check(rows):
        numbered = [(n, list(cells)) for n, cells in enumerate(rows, start=2)]
        careful = plans(options)
        expected = [careful.convert(n, cells) for n, cells in numbered]
        fast = plans(options)
        assert fast.convert_rows(numbered) == expected
        assert fast.convert_rows(numbered) == expected  # the second time from memory

    check()


@given(
    year=st.integers(0, 9999),
    month=st.integers(0, 13),
    day=st.integers(0, 32),
    separator=st.sampled_from(["/", "-", "."]),
    padded=st.booleans(),
)
def test_plain_dates_are_read_as_parse_when_reads_them(year, month, day, separator, padded):
    cell = (
        f"{year:04d}{separator}{month:02d}{separator}{day:02d}"
        if padded
        else (f"{year:04d}{separator}{month}{separator}{day}")
    )
    options = Options(region="CN", timezone="Asia/Shanghai")
    read = converter_for({"x-type": "date"}, options)
    try:
        expected = parse_when(cell, options)[0].isoformat()
    except ValueError as exc:
        with pytest.raises(ValueError) as refused:
            read(cell)
        assert str(refused.value) == str(exc)
    else:
        assert read(cell) == expected


texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@given(texts=st.lists(texts, min_size=1, max_size=8), comment=texts)
def test_copy_text_escaped_once_per_chunk_is_escaped_row_by_row(texts, comment):
    ids = list(range(1, len(texts) + 1))
    head, tail = "\tcustomer\t", f"\t{_copy_text(comment)}\t\\N\n"
    expected = "".join(f"{i}{head}{_copy_text(t)}{tail}" for i, t in zip(ids, texts, strict=True))
    assert _copy_rows(ids, head, tail, texts) == expected


cell_texts = st.sampled_from(["a", "", "中文", 'say "hi"', "a,b", "line\nbreak", "x" * 30, "\x00"])
line_endings = st.sampled_from(["\n", "\r\n"])


def _csv(rows: list[list[str]], ending: str) -> str:
    def cell(text: str) -> str:
        if any(ch in text for ch in ',"\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    return "".join(",".join(map(cell, row)) + ending for row in rows)


def _outcome(read):
    try:
        return "rows", read()
    except FileProblem as exc:
        return "refused", [e.as_dict() for e in exc.errors]


@pytest.mark.django_db
@pytest.mark.parametrize("batch_rows", [1, 3, 2000])
def test_rows_read_in_lists_are_the_rows_read_one_by_one(
    tmp_path, monkeypatch, settings, batch_rows
):
    monkeypatch.setattr(reading, "BATCH_ROWS", batch_rows)
    settings.TESSERA_EXCHANGE = {**settings.TESSERA_EXCHANGE, "max_cell_chars": 20}

    @FAST
    @given(
        width=st.integers(1, 3),
        body=st.lists(st.lists(cell_texts, min_size=0, max_size=4), max_size=9),
        ending=line_endings,
        after=st.integers(0, 6),
        size=st.integers(1, 4),
    )
    def check(width, body, ending, after, size):
        header = [f"c{i}" for i in range(width)]
        path = write(tmp_path / "file.csv", _csv([header, *body], ending))

        def one_by_one():
            with open_table(path) as table:
                return list(table.rows)

        def in_lists():
            with open_table(path) as table:
                return list(itertools.chain.from_iterable(table.batches()))

        def counted():
            with open_table(path) as table:
                return table.count()

        def chunked():
            with open_table(path) as table:
                return list(table.chunks(size, after=after))

        expected = _outcome(one_by_one)
        assert _outcome(in_lists) == expected
        count = _outcome(counted)
        assert count == (expected if expected[0] == "refused" else ("rows", len(expected[1])))
        chunks = _outcome(chunked)
        if expected[0] == "refused":
            assert chunks == expected
        else:
            fresh = [row for row in expected[1] if row[0] > after]
            assert chunks == ("rows", [fresh[i : i + size] for i in range(0, len(fresh), size)])

    check()
