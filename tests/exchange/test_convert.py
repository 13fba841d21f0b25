"""Cell conversion per field type; the fast path for Chinese mobiles agrees with phonenumbers."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.exchange.convert import Options, converter_for, normalise_phone

OPTIONS = Options(region="CN", timezone="Asia/Shanghai")


def convert(prop, cell, options=OPTIONS):
    return converter_for(prop, options)(cell)


SHAPES = [
    lambda d: d,
    lambda d: "+86" + d,
    lambda d: "+86 " + d,
    lambda d: "0086" + d,
    lambda d: f"{d[:3]} {d[3:7]} {d[7:]}",
    lambda d: f"+86-{d[:3]}-{d[3:7]}-{d[7:]}",
    lambda d: f"({d[:3]}) {d[3:]}",
]


@given(
    prefix=st.integers(13, 19),
    rest=st.integers(0, 10**9 - 1),
    shape=st.sampled_from(SHAPES),
)
def test_the_mobile_fast_path_agrees_with_phonenumbers(prefix, rest, shape):
    digits = f"{prefix}{rest:09d}"
    text = shape(digits)
    expected = phonenumbers.format_number(
        phonenumbers.parse(text, "CN"), phonenumbers.PhoneNumberFormat.E164
    )
    assert normalise_phone(text, "CN") == expected == f"+86{digits}"
    assert convert({"x-type": "phone"}, text) == expected  # the converter's own fast path


@pytest.mark.parametrize(
    ("text", "region", "stored"),
    [
        ("+44 20 7946 0958", "CN", "+442079460958"),
        ("(020) 7946 0958", "GB", "+442079460958"),
        ("0571-8888 6666", "CN", "+8657188886666"),
        ("13800138000", "US", "+13800138000"),  # no CN fast path elsewhere
    ],
)
def test_other_numbers_take_the_full_parse(text, region, stored):
    assert normalise_phone(text, region) == stored


def test_phones_that_cannot_be_are_refused():
    for text in ["12", "phone", "+86 138"]:
        with pytest.raises(ValueError):
            normalise_phone(text, "CN")


@pytest.mark.parametrize(
    "cell",
    ["2024-03-05", "2024/3/5", "2024.3.5", "2024年3月5日", "2024 年 3 月 5 日", "20240305",
     "3/5/2024", dt.date(2024, 3, 5), dt.datetime(2024, 3, 5, 10, 0), "２０２４/３/５"],
)  # fmt: skip
def test_dates_in_common_shapes(cell):
    assert convert({"x-type": "date"}, cell) == "2024-03-05"


def test_day_first_and_impossible_dates():
    assert convert({"x-type": "date"}, "5/3/2024", Options(day_first=True)) == "2024-03-05"
    for cell in ["2024/2/30", "2024-13-01", "yesterday", "2024/3"]:
        with pytest.raises(ValueError):
            convert({"x-type": "date"}, cell)


@pytest.mark.parametrize(
    ("cell", "stored"),
    [
        ("2024/5/2 12:00", "2024-05-02T04:00:00.000000Z"),  # Asia/Shanghai
        ("2024年5月2日 12时30分", "2024-05-02T04:30:00.000000Z"),
        ("2024年5月2日12点", "2024-05-02T04:00:00.000000Z"),
        ("2024-05-02T12:00:00Z", "2024-05-02T12:00:00.000000Z"),
        ("2024-05-02 12:00:00+02:00", "2024-05-02T10:00:00.000000Z"),
        ("2024-05-02", "2024-05-01T16:00:00.000000Z"),
    ],
)
def test_datetimes_in_the_import_time_zone(cell, stored):
    assert convert({"x-type": "datetime"}, cell) == stored


@pytest.mark.parametrize(
    ("cell", "stored"),
    [("¥3,899.50", 3899.5), ("$120", 120), ("RMB 50", 50), ("1 200", 1200), ("(12.50)", -12.5),
     ("￥１,０００", 1000), ("-¥5", -5), (12.0, 12), ("3899.50元", 3899.5)],
)  # fmt: skip
def test_money(cell, stored):
    assert convert({"x-type": "money"}, cell) == stored


def test_numbers_choices_and_yes_no():
    assert convert({"x-type": "integer"}, "1,200") == 1200
    with pytest.raises(ValueError):
        convert({"x-type": "integer"}, "1.5")
    level = {
        "x-type": "enum",
        "enum": ["gold", "silver"],
        "x-enum-labels": {"gold": {"en": "Gold card", "zh": "金卡"}},
    }
    assert [convert(level, c) for c in ["gold", "GOLD", "金卡", "gold-card", "Silver"]] == [
        "gold", "gold", "gold", "gold", "silver",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        convert(level, "钻石卡")
    tags = {"x-type": "multi_enum", "enum": ["a", "b"]}
    assert convert(tags, "a、B, a") == ["a", "b"]
    assert [convert({"x-type": "boolean"}, c) for c in ["是", "否", "√", "yes", 0]] == [
        True, False, True, True, False,
    ]  # fmt: skip
    assert convert({"x-type": "string"}, "  ") is None
    assert convert({"x-type": "string"}, 100234.0) == "100234"


def _by_decimal(cell: str, money: bool):
    """What ``_decimal`` stored before its fast path: the Decimal reading."""
    from tessera.exchange.convert import _number_text

    number = _number_text(cell, money=money)
    if number == number.to_integral_value() and abs(number) < 2**53:
        return int(number)
    return float(number)


@given(
    whole=st.integers(0, 10**13 - 1),
    fraction=st.sampled_from(["", ".0", ".00", ".5", ".50", ".05", ".99", ".1"]),
    grouped=st.booleans(),
    sign=st.sampled_from(["", "¥", "￥", "$"]),
)
def test_the_plain_amount_fast_path_agrees_with_the_decimal_reading(whole, fraction, grouped, sign):
    from tessera.exchange.convert import _plain_amount

    cell = sign + (f"{whole:,}" if grouped else str(whole)) + fraction
    for money in (True, False):
        fast = _plain_amount(cell, money)
        if fast is None:
            assert sign and not money  # a currency sign is only read for money
            continue
        slow = _by_decimal(cell, money)
        assert (type(fast), fast) == (type(slow), slow), cell


def test_remembered_cells_give_the_same_values_and_refusals():
    date = {"x-type": "date"}
    read = converter_for(date, OPTIONS)
    cells = ["1990/3/5", " 1990/3/5 ", "1990/13/5", "", None, "1990/3/5", "1990/13/5"]
    first = []
    for _ in range(2):  # the second pass is answered from memory
        seen = []
        for cell in cells:
            try:
                seen.append(read(cell))
            except ValueError as exc:
                seen.append(("refused", str(exc)))
        first = first or seen
        assert seen == first
    assert first[:5] == [
        "1990-03-05",
        "1990-03-05",
        ("refused", "'1990/13/5' is not a real date or time"),
        None,
        None,
    ]
    assert read(dt.date(1990, 3, 5)) == "1990-03-05"  # not a text: not remembered
