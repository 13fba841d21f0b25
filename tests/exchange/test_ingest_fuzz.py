"""Hypothesis sends any JSON (and item-shaped JSON with odd values) to the signed ingestion
endpoint: always a 2xx or a 4xx whose errors name JSON paths, never a 500, and an item
refused leaves nothing of itself behind."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.exchange import ingest
from tessera.records.models import Event, Record

text = st.text(max_size=20)
scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), text
)
anything = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)
FIELDS = ["name", "phone", "email", "city", "birthday", "level", "points", "total_spent",
          "vip", "tags", "nope"]  # fmt: skip
item = st.fixed_dictionaries(
    {
        "id": st.one_of(text, st.integers(), st.none()),
        "data": st.one_of(st.dictionaries(st.sampled_from(FIELDS), anything, max_size=5), anything),
    },
    optional={
        "events": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"type": st.one_of(text, st.integers())},
                    optional={"at": anything, "payload": anything, "id": anything},
                ),
                max_size=3,
            ),
            anything,
        )
    },
)
bodies = st.one_of(anything, item, st.lists(item, min_size=1, max_size=4))


@pytest.fixture
def signed(shop):
    _source, key = ingest.create_source("fuzz", ["customer"])
    return key


_sent = iter(range(10**9))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_any_json_gets_an_answer_by_path_and_never_a_500(client, signed, body):
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()) - 200 + next(_sent) % 400)
    before = Record.objects.count(), Event.objects.count()
    response = client.post(
        "/ingest/fuzz/customer",
        data=raw,
        content_type="application/json",
        HTTP_X_TESSERA_TIMESTAMP=stamp,
        HTTP_X_TESSERA_SIGNATURE=ingest.sign(signed, stamp, raw),
    )
    assert response.status_code < 500, response.content[:500]
    answer = response.json()
    if response.status_code in (200, 201) and "results" in answer:
        results = answer["results"]
    elif response.status_code in (200, 201, 422):
        results = [answer]
    else:
        assert response.status_code in (400, 409) and answer["error"]["message"]
        assert (Record.objects.count(), Event.objects.count()) == before
        return
    for result in results:
        assert result["status"] in ("created", "updated", "unchanged", "refused")
        if result["status"] == "refused":
            assert result["errors"] and all(e["path"].startswith("$") for e in result["errors"])
    if all(r["status"] == "refused" for r in results):
        assert (Record.objects.count(), Event.objects.count()) == before
