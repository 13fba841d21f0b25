"""The JSON texts an import copies into PostgreSQL are the service's: each record's data is
the very text ``json.dumps`` gives."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tessera.exchange.writing import _dumps, _record_text, record_texts

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@given(data=st.dictionaries(st.text(), values, max_size=8))
def test_a_records_text_is_the_dumps_of_its_data(data):
    assert _record_text(data) == _dumps(data)
    assert json.loads(_record_text(data)) == json.loads(json.dumps(data))


shapes = st.lists(st.text(max_size=4), max_size=4, unique=True)
plain = (
    st.integers(-(2**70), 2**70)
    | st.floats()  # NaN and infinities too: they take the value-by-value path
    | st.text(max_size=6)
    | st.booleans()
    | st.none()
)


@given(st.lists(shapes, min_size=1, max_size=3), st.data())
def test_texts_made_a_field_at_a_time_are_the_texts_made_row_by_row(names_of, draw):
    """Rows of one or several shapes, columns of one type or mixed."""
    rows = [
        {name: draw.draw(plain | values) for name in draw.draw(st.sampled_from(names_of))}
        for _ in range(draw.draw(st.integers(1, 12)))
    ]
    assert record_texts(rows) == [_record_text(row) for row in rows]


def test_a_column_of_amounts_with_a_huge_whole_number_is_written_value_by_value():
    rows = [{"x": 1.5}, {"x": 10**400}, {"x": 2}, {"x": float("inf")}]
    assert record_texts(rows) == [_record_text(row) for row in rows]
    assert record_texts(rows[:3])[1] == '{"x":1' + "0" * 400 + "}"
