"""The JSON texts an import copies into PostgreSQL are the service's: each record's data and
its history's changes read back as the same JSON ``json.dumps`` and ``field_changes`` give."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tessera.exchange.writing import _dumps, _record_and_history
from tessera.records.history import field_changes

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
def test_record_and_history_texts_are_the_dumps_of_data_and_changes(data):
    record, history = _record_and_history(data)
    assert record == _dumps(data)
    assert history == _dumps({name: [None, value] for name, value in data.items()})
    assert json.loads(history) == json.loads(json.dumps(field_changes({}, data)))
