"""Coupons for campaigns: ``issue_coupon`` gives the customer a code in one of their fields."""

from __future__ import annotations


def register(registries) -> None:
    from .action import IssueCoupon

    registries.actions.register(IssueCoupon())
