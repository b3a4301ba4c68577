"""Prices: a function with branches, a one-line function and one no test calls."""

from __future__ import annotations


def line_total(price: float, quantity: int) -> float:
    """What `quantity` items cost: 10% off from 10 items, 20% off from 100."""
    total = price * quantity
    if quantity >= 100:
        total *= 0.8
    elif quantity >= 10:
        total *= 0.9
    return round(total, 2)


def vat(amount: float) -> float: return round(amount * 0.2, 2)  # fmt: skip


def refund(paid: float, returned: int, bought: int) -> float:
    """The money back for `returned` of `bought` items (no test calls this)."""
    if returned > bought:
        raise ValueError("more items returned than bought")
    return round(paid * returned / bought, 2)
