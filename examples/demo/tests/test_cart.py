from shop.cart import Cart
from shop.pricing import line_total


def test_total_with_vat() -> None:
    cart = Cart()
    cart.add("pen", 1.50, 2)
    cart.add("pen", 1.50)
    cart.add("paper", 0.10, 20)
    assert cart.total() == 6.30
    assert cart.total(with_vat=True) == 7.56


def test_small_orders_pay_full_price() -> None:
    assert line_total(2.00, 3) == 6.00
