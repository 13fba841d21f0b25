from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_examples_publish(publish):
    for name in ("abandoned-cart", "birthday-coupon", "win-back", "repurchase"):
        publish(name)
