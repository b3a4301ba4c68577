"""A shopping cart: methods, a loop and a branch the tests take only one way."""

from __future__ import annotations

from dataclasses import dataclass, field

from shop.pricing import line_total, vat


@dataclass
class Cart:
    items: dict[str, tuple[float, int]] = field(default_factory=dict)

    def add(self, name: str, price: float, quantity: int = 1) -> None:
        if quantity < 1:
            raise ValueError(f"cannot add {quantity} of {name}")
        _, already = self.items.get(name, (price, 0))
        self.items[name] = (price, already + quantity)

    def total(self, with_vat: bool = False) -> float:
        total = 0.0
        for price, quantity in self.items.values():
            total += line_total(price, quantity)
        if with_vat:
            total += vat(total)
        return round(total, 2)
