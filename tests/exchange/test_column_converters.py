"""A column converted in one pass is the column converted cell by cell, value and type.

Phones, emails and amounts have a ``column`` that reads a whole chunk with a regex and C
string methods (``convert_column``). Each is held here to ``[convert(c) for c in cells]``
on generated columns: the common forms mixed with blanks and odd cells, which must send
the column back cell by cell, and refusals, which must still raise ValueError.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tessera.exchange.convert import (
    Options,
    _amount_column,
    _email_column,
    _phone_column,
    convert_column,
    converter_for,
)

CHINA = Options(region="CN", timezone="Asia/Shanghai")
ABROAD = Options(region="US", timezone="America/New_York")
SETTINGS = hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def typed(values: list[Any]) -> list[tuple[type, Any]]:
    return [(type(v), v) for v in values]


def check_column(prop: dict[str, Any], options: Options, cells: list[Any]) -> None:
    """The column gives the per-cell values, or raises what the first refused cell raises."""
    by_cell = converter_for(prop, options)
    try:
        expected = [by_cell(cell) for cell in cells]
    except ValueError:
        with pytest.raises(ValueError):
            convert_column(converter_for(prop, options), cells)
        return
    fresh = converter_for(prop, options)
    assert typed(convert_column(fresh, cells)) == typed(expected)
    assert typed(convert_column(fresh, cells)) == typed(expected)  # again, maybe remembered


# --- phones --------------------------------------------------------------------------------

mobiles = st.builds(
    lambda second, rest: f"1{second}{rest:09d}",
    st.sampled_from("3456789"),
    st.integers(0, 10**9 - 1),
)
MOBILE_SHAPES = [
    lambda d: d,
    lambda d: f"{d[:3]} {d[3:7]} {d[7:]}",
    lambda d: "+86" + d,
    lambda d: "+86 " + d,
    lambda d: "0086" + d,
    lambda d: f"+86-{d[:3]}-{d[3:7]}-{d[7:]}",
    lambda d: f"({d[:3]}) {d[3:]}",
    lambda d: f" {d} ",
]
ODD_PHONES = [
    "",
    "  ",
    "-",
    " ( ) ",
    "0571-8888 6666",
    "+1 650 253 0000",
    "+44 20 7946 0958",
    "１３８００１３８０００",
    "\t13800138000",
    "13800138000\r",
    "138\n00138000",
    "13800138000\n",
    "12800138000",
    "8613800138000",
    "+8613800138000\xa0",
    "138 0013 800",
    "+86",
    "0086",
    "abc",
]
phone_cells = (
    st.builds(lambda d, shape: shape(d), mobiles, st.sampled_from(MOBILE_SHAPES))
    | st.sampled_from(ODD_PHONES)
    | st.text("0123456789 +-()\n\t", max_size=16)
)


@SETTINGS
@given(
    cells=st.lists(phone_cells, max_size=30),
    options=st.sampled_from([CHINA, ABROAD]),
)
def test_a_phone_column_is_its_cells(cells, options):
    check_column({"x-type": "phone"}, options, cells)


@SETTINGS
@given(cells=st.lists(mobiles, min_size=1, max_size=30), shape=st.sampled_from(MOBILE_SHAPES))
def test_a_column_of_mobiles_is_its_cells(cells, shape):
    check_column({"x-type": "phone"}, CHINA, [shape(d) for d in cells])


@SETTINGS
@given(
    cells=st.lists(
        st.builds(lambda d, shape: shape(d), mobiles, st.sampled_from(MOBILE_SHAPES))
        | st.sampled_from(["", "   "]),
        min_size=1,
        max_size=30,
    )
)
def test_mobiles_and_blanks_take_the_column_path_and_give_the_cells(cells):
    by_cell = converter_for({"x-type": "phone"}, CHINA)
    column = _phone_column(_refuse, in_china=True)
    assert column(cells) == [by_cell(cell) for cell in cells]


def test_the_phones_a_shop_writes_take_the_column_path():
    cells = ["13800138000", "138 0013 8000", "+86 139-0013-9000", "008613700137000", ""]
    column = _phone_column(_refuse, in_china=True)
    assert column(cells) == [
        "+8613800138000",
        "+8613800138000",
        "+8613900139000",
        "+8613700137000",
        None,
    ]


def test_a_refused_phone_refuses_the_column():
    convert = converter_for({"x-type": "phone"}, CHINA)
    with pytest.raises(ValueError):
        convert_column(convert, ["13800138000", "abc", "13900139000"])
    with pytest.raises(ValueError):
        convert_column(convert, ["13800138000", "-"])  # separators alone are not blank


# --- emails --------------------------------------------------------------------------------

ODD_EMAILS = [
    "",
    "  ",
    " A@B.CN ",
    "MeiMei@Example.COM",
    "ｆｕｌｌ@example.com",
    "é@example.com",
    "a\nb@example.com",
    "\r",
    "\u3000x@example.com\u3000",
    "zhao@example",
]
email_cells = (
    st.builds(lambda i: f"c{i}@example.com", st.integers(0, 10**6))
    | st.sampled_from(ODD_EMAILS)
    | st.text(max_size=8)
)


@SETTINGS
@given(cells=st.lists(email_cells | st.none() | st.integers(), max_size=30))
def test_an_email_column_is_its_cells(cells):
    check_column({"x-type": "email"}, CHINA, cells)


def test_the_emails_a_shop_writes_take_the_column_path():
    column = _email_column(_refuse)
    assert column(["c12@example.com", "", " Mei@Example.COM "]) == [
        "c12@example.com",
        None,
        "mei@example.com",
    ]


# --- amounts -------------------------------------------------------------------------------

ODD_AMOUNTS = [
    "",
    "  ",
    " ¥12.00 ",
    "¥",
    "1,2,3",
    "(12.50)",
    "-5",
    "1e3",
    "007",
    "0,123",
    "$1,000",
    "￥5",
    "€5",
    "12.000",
    "12.",
    ".5",
    "1,234,567,890,123.45",
    "12345678901234",
    "１２",
    "12\n",
    "1\r",
    "NaN",
    "inf",
    "¥ 12",
    "RMB 50",
]


@st.composite
def amounts(draw: st.DrawFn) -> str:
    """An amount as a person writes it: maybe a sign, maybe groups, a fraction of 0-3 digits."""
    whole = draw(st.integers(0, 10**15))
    text = f"{whole:,}" if draw(st.booleans()) else str(whole)
    fraction = draw(st.sampled_from(["", ".0", ".00", ".5", ".50", ".05", ".99", ".000", ".123"]))
    sign = draw(st.sampled_from(["", "", "¥", "￥", "$"]))
    return sign + text + fraction


amount_cells = (
    amounts()
    | st.builds(lambda c: f"¥{c / 100:,.2f}", st.integers(0, 5_000_000))
    | st.sampled_from(ODD_AMOUNTS)
    | st.text("0123456789,.¥$ -", max_size=10)
)


@SETTINGS
@given(
    cells=st.lists(amount_cells, max_size=30),
    kind=st.sampled_from(["money", "decimal"]),
)
def test_an_amount_column_is_its_cells(cells, kind):
    check_column({"x-type": kind}, CHINA, cells)


@SETTINGS
@given(
    cells=st.lists(amount_cells | st.none() | st.integers(-5, 5) | st.floats(0, 10), max_size=10)
)
def test_an_amount_column_of_other_cells_is_its_cells(cells):
    check_column({"x-type": "money"}, CHINA, cells)


plain_amounts = st.builds(
    lambda cents, digits, grouped, sign, pad: (
        pad + sign + format(cents / 100, f"{',' if grouped else ''}.{digits}f") + pad
    ),
    st.integers(0, 10**14) | st.integers(0, 10_000),
    st.sampled_from([0, 1, 2]),
    st.booleans(),
    st.sampled_from(["", "¥", "￥", "$"]),
    st.sampled_from(["", "", " "]),
)


@SETTINGS
@given(
    cells=st.lists(plain_amounts | st.sampled_from(["", "  "]), min_size=1, max_size=30),
    money=st.booleans(),
)
def test_plain_amounts_and_blanks_take_the_column_path_and_give_the_cells(cells, money):
    if not money:
        cells = [cell.strip("¥￥$ ") for cell in cells]
    by_cell = converter_for({"x-type": "money" if money else "decimal"}, CHINA)
    values = _amount_column(_refuse, money=money)(cells)
    assert typed(values) == typed([by_cell(cell) for cell in cells])


def test_the_amounts_a_shop_writes_take_the_column_path():
    cells = ["¥3,899.50", "¥12.00", "¥0.00", "12.5", "", " 7 ", "¥0.05"]
    values = _amount_column(_refuse, money=True)(cells)
    assert typed(values) == typed([3899.5, 12, 0, 12.5, None, 7, 0.05])


def test_a_refused_amount_refuses_the_column():
    convert = converter_for({"x-type": "money"}, CHINA)
    with pytest.raises(ValueError):
        convert_column(convert, ["¥12.00", "abc", "¥3,899.50"])
    with pytest.raises(ValueError):
        convert_column(convert, ["¥12.00", "¥"])


def _refuse(cells: Any) -> Any:
    raise AssertionError(f"the column path was not taken for {cells!r}")
