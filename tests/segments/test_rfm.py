"""RFM scoring on a known shop, every score and cell worked out by hand below."""

from __future__ import annotations

import copy

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.records.models import Record, RecordChange
from tessera.segments import rfm, tasks
from tessera.segments.models import ScoringSettings
from tests.conftest import CUSTOMER
from tests.segments.conftest import SEG_CUSTOMER, members

# name: (days since each order, newest first; total of each order). Window: P365D.
#
# name  last  F(365d)  M(365d)
# A     400     0        0      its only order is outside the window
# B     200     1       50
# C     150     6       80
# D     100     2      120
# E      60     6      900
# F      45     2      200
# G      20     3      300
# H      10     1       30
# I       5     8     1500
# J       2     5      700
# K       -     -        -      never ordered: no scores, no cell
ORDERS = {
    "A": [(400, 999)],
    "B": [(200, 50)],
    "C": [(150, 30)] + [(151 + i, 10) for i in range(5)],
    "D": [(100, 110), (101, 10)],
    "E": [(60, 850)] + [(61 + i, 10) for i in range(5)],
    "F": [(45, 190), (46, 10)],
    "G": [(20, 280), (21, 10), (22, 10)],
    "H": [(10, 30)],
    "I": [(5, 1430)] + [(6 + i, 10) for i in range(7)],
    "J": [(2, 660)] + [(3 + i, 10) for i in range(4)],
    "K": [],
}

SETTINGS = {
    "window": "P365D",
    "recency": {"metric": "orders.last"},
    "frequency": {"metric": "orders.count"},
    "monetary": {"metric": "orders.sum.total"},
}

# Quantiles: score = 1 + floor(5 * (rank - 1) / 10), rank ascending with ties sharing the
# lowest rank.
#   R: A..J are ranked 1..10 by last order (oldest first) → 1 1 2 2 3 3 4 4 5 5
#   F: 0(A)=1, 1(B,H)=2, 2(D,F)=4, 3(G)=6, 5(J)=7, 6(C,E)=8, 8(I)=10
#      → A1 B1 H1, D2 F2, G3, J4, C4 E4, I5
#   M: 0(A) 30(H) 50(B) 80(C) 120(D) 200(F) 300(G) 700(J) 900(E) 1500(I) → 1 1 2 2 3 3 4 4 5 5
# Cells from (R, F) on the classic grid.
QUANTILES = {
    "A": (1, 1, 1, "lost"),
    "B": (1, 1, 2, "lost"),
    "C": (2, 4, 2, "at_risk"),
    "D": (2, 2, 3, "hibernating"),
    "E": (3, 4, 5, "loyal"),
    "F": (3, 2, 3, "about_to_sleep"),
    "G": (4, 3, 4, "potential_loyalist"),
    "H": (4, 1, 1, "promising"),
    "I": (5, 5, 5, "champions"),
    "J": (5, 4, 4, "champions"),
    "K": (None, None, None, None),
}

# Thresholds: recency within 30/90/180/365 days → 5/4/3/2, else 1; frequency ≥ 2/3/5/8 →
# 2/3/4/5; monetary ≥ 100/300/1000/3000 → 2/3/4/5.
THRESHOLDS = {
    "A": (1, 1, 1, "lost"),
    "B": (2, 1, 1, "hibernating"),
    "C": (3, 4, 1, "loyal"),
    "D": (3, 2, 2, "about_to_sleep"),
    "E": (4, 4, 3, "loyal"),
    "F": (4, 2, 2, "potential_loyalist"),
    "G": (5, 3, 3, "potential_loyalist"),
    "H": (5, 1, 1, "new_customers"),
    "I": (5, 5, 4, "champions"),
    "J": (5, 4, 3, "champions"),
    "K": (None, None, None, None),
}


@pytest.fixture
def shop(customer, order, frozen):
    people = {}
    for name, orders in ORDERS.items():
        people[name] = customer(name)
        for days, total in orders:
            order(people[name], total, days_ago=days)
    return people


def scores() -> dict[str, tuple]:
    return {
        r.data["name"]: tuple(r.data.get(f) for f in ("rfm_r", "rfm_f", "rfm_m", "rfm_cell"))
        for r in Record.objects.filter(object_key="customer")
    }


def test_quantile_scores_and_cells(shop, clock):
    rfm.configure("customer", SETTINGS)
    outcome = rfm.score("customer", clock=clock)
    assert scores() == QUANTILES
    assert (outcome.considered, outcome.changed) == (11, 10)
    assert rfm.score("customer", clock=clock).changed == 0  # nothing moved, nothing written


def test_threshold_scores_and_cells(shop, clock):
    rfm.configure(
        "customer",
        {
            **SETTINGS,
            "recency": {"metric": "orders.last", "thresholds": ["P30D", "P90D", "P180D", "P365D"]},
            "frequency": {"metric": "orders.count", "thresholds": [2, 3, 5, 8]},
            "monetary": {"metric": "orders.sum.total", "thresholds": [100, 300, 1000, 3000]},
        },
    )
    rfm.score("customer", clock=clock)
    assert scores() == THRESHOLDS


def test_scores_are_written_with_history_and_drive_segments(
    shop, clock, publish_segment, committed
):
    publish_segment("champions", {"field": "rfm_cell", "op": "eq", "value": "champions"})
    rfm.configure("customer", SETTINGS)
    with committed():
        rfm.score("customer", clock=clock)
    assert members("champions") == {"I", "J"}
    i = shop["I"]
    i.refresh_from_db()
    assert i.version == 2
    change = RecordChange.objects.get(record_id=i.pk, version=2)
    assert change.comment == "RFM scoring"
    assert change.changes == {
        "rfm_cell": [None, "champions"],
        "rfm_f": [None, 5],
        "rfm_m": [None, 5],
        "rfm_r": [None, 5],
    }
    # thresholds instead: G (20 days, 3 orders) scores R5 F4 and becomes a champion
    rfm.configure(
        "customer",
        {
            **SETTINGS,
            "recency": {"metric": "orders.last", "thresholds": ["P30D", "P90D", "P180D", "P365D"]},
            "frequency": {"metric": "orders.count", "thresholds": [1, 2, 3, 4]},
        },
    )
    with committed():
        rfm.score("customer", clock=clock)
    assert members("champions") == {"G", "I", "J"}


def test_a_where_on_the_source_narrows_what_counts(shop, clock):
    rfm.configure(
        "customer",
        {
            **SETTINGS,
            "monetary": {
                "metric": "orders.sum.total",
                "where": {"field": "total", "op": "gte", "value": 100},
            },
        },
    )
    rfm.score("customer", clock=clock)
    # orders of 100 or more: A0 B0 C0 H0 D110 F190 G280 J660 E850 I1430
    # ranks: A,B,C,H=1 → 1; D=5 → 3; F=6 → 3; G=7 → 4; J=8 → 4; E=9 → 5; I=10 → 5
    got = {name: value[2] for name, value in scores().items()}
    assert got == {
        "A": 1,
        "B": 1,
        "C": 1,
        "H": 1,
        "D": 3,
        "F": 3,
        "G": 4,
        "J": 4,
        "E": 5,
        "I": 5,
        "K": None,
    }


def test_the_scoring_step_runs_when_due(shop, monkeypatch, committed):
    from django.utils import timezone

    from tests.segments.conftest import NOW

    rfm.configure("customer", {**SETTINGS, "every": "P1D"})
    with committed():
        assert tasks.scoring_step() == ["rfm:customer"]
    assert scores() == QUANTILES
    with committed():
        assert tasks.scoring_step() == []
    monkeypatch.setattr(timezone, "now", lambda: NOW.replace(day=NOW.day + 1))
    with committed():
        assert tasks.scoring_step() == ["rfm:customer"]


def errors_of(object_key, body):
    with pytest.raises(ValidationFailed) as caught:
        rfm.configure(object_key, body)
    return caught.value.errors


def test_an_object_without_the_fields_is_told_what_to_declare(store):
    bare = copy.deepcopy(CUSTOMER)
    definitions.save_and_publish("object", "shopper", bare)
    errors = errors_of("shopper", {**SETTINGS, "recency": {"metric": "visits.last"}})
    by_path = {e.path: e for e in errors}
    assert by_path["$.recency.metric"].code == "unknown_relation"
    assert by_path["$.fields.r"].code == "missing_field"
    assert "shopper has no field 'rfm_r' to hold recency scores" in by_path["$.fields.r"].message
    assert "declare it in the shopper object (x-type integer, 1 to 5)" in (
        by_path["$.fields.r"].message
    )
    assert {"$.fields.f", "$.fields.m", "$.fields.cell"} <= set(by_path)


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"recency": {"metric": "orders.count"}}, "$.recency.metric", "wrong_type"),
        ({"monetary": {"metric": "orders.last"}}, "$.monetary.metric", "wrong_type"),
        ({"monetary": {"metric": "orders.sum.status"}}, "$.monetary.metric", "unknown_field"),
        (
            {
                "frequency": {
                    "metric": "orders.count",
                    "where": {"field": "colour", "op": "eq", "value": "red"},
                }
            },
            "$.frequency.where.field",
            "unknown_field",
        ),
        (
            {"frequency": {"metric": "orders.count", "thresholds": [5, 3, 2, 1]}},
            "$.frequency.thresholds",
            "order",
        ),
        (
            {"recency": {"metric": "orders.last", "thresholds": ["P1Y", "P30D", "P2Y", "P3Y"]}},
            "$.recency.thresholds",
            "order",
        ),
        (
            {"frequency": {"metric": "orders.count", "thresholds": [1, 2]}},
            "$.frequency.thresholds",
            "minItems",
        ),
        ({"window": "90 days"}, "$.window", "invalid"),
        (
            {"cells": [{"name": "everyone", "r": [1, 2, 3, 4, 5], "f": [1, 2, 3, 4]}]},
            "$.cells",
            "incomplete",
        ),
        ({"fields": {"cell": "points"}}, "$.fields.cell", "missing_field"),
        ({"fields": {"r": "city"}}, "$.fields.r", "missing_field"),
        ({"colour": "red"}, "$", "additionalProperties"),
    ],
)
def test_bad_settings_get_precise_errors(store, change, path, code):
    errors = errors_of("customer", {**SETTINGS, **change})
    assert (path, code) in {(e.path, e.code) for e in errors}, errors


def test_scoring_refuses_once_the_object_lost_a_field(shop, clock):
    rfm.configure("customer", SETTINGS)
    assert ScoringSettings.objects.get(kind="rfm").object_key == "customer"
    body = copy.deepcopy(SEG_CUSTOMER)
    body["properties"]["rfm_r"] = {"x-type": "string"}
    definitions.save_and_publish("object", "customer", body)
    with pytest.raises(ValidationFailed) as caught:
        rfm.score("customer", clock=clock)
    assert caught.value.errors[0].path == "$.fields.r"
