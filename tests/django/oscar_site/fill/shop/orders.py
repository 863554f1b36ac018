"""Customers buying: baskets with their lines, options and vouchers; orders with everything an order carries
(addresses, lines and prices, status changes, notes, payment sources, transactions and events, shipping events,
discounts, surcharges); and saved bank cards. Called by management/commands/fill_shop.py, in its order, each
with the Shop.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from oscar.core.loading import get_model

from tests.django.oscar_site.fill.shop.common import BASKETS, ORDERS, Shop, with_tax

Basket = get_model("basket", "Basket")
BasketLine = get_model("basket", "Line")
BasketLineAttribute = get_model("basket", "LineAttribute")
Order = get_model("order", "Order")
OrderLine = get_model("order", "Line")
OrderLineAttribute = get_model("order", "LineAttribute")
LinePrice = get_model("order", "LinePrice")
ShippingAddress = get_model("order", "ShippingAddress")
BillingAddress = get_model("order", "BillingAddress")
OrderNote = get_model("order", "OrderNote")
OrderStatusChange = get_model("order", "OrderStatusChange")
OrderDiscount = get_model("order", "OrderDiscount")
OrderLineDiscount = get_model("order", "OrderLineDiscount")
Surcharge = get_model("order", "Surcharge")
CommunicationEvent = get_model("order", "CommunicationEvent")
ShippingEventType = get_model("order", "ShippingEventType")
ShippingEvent = get_model("order", "ShippingEvent")
ShippingEventQuantity = get_model("order", "ShippingEventQuantity")
PaymentEventType = get_model("order", "PaymentEventType")
PaymentEvent = get_model("order", "PaymentEvent")
PaymentEventQuantity = get_model("order", "PaymentEventQuantity")
SourceType = get_model("payment", "SourceType")
Source = get_model("payment", "Source")
Transaction = get_model("payment", "Transaction")
Bankcard = get_model("payment", "Bankcard")
CommunicationEventType = get_model("communication", "CommunicationEventType")
VoucherApplication = get_model("voucher", "VoucherApplication")


def baskets(shop: Shop) -> None:
    statuses = (Basket.OPEN, Basket.MERGED, Basket.SAVED, Basket.FROZEN, Basket.SUBMITTED)
    shop.basket_list = []
    for n in range(BASKETS):
        owner = None if n % 9 == 0 else shop.user_list[n % len(shop.user_list)]
        status = statuses[n % len(statuses)]
        # Open while filling it: Oscar refuses changes to the lines of a merged, frozen or submitted basket.
        basket = Basket.objects.create(owner=owner)
        for k in range(1 + n % 4):
            product = shop.product_list[(n * 13 + k * 31) % len(shop.product_list)]
            record = shop.stockrecords[product.pk]
            line = BasketLine.objects.create(
                basket=basket, line_reference=f"{product.pk}_{record.pk}", product=product, stockrecord=record,
                quantity=1 + k, price_excl_tax=record.price, price_incl_tax=with_tax(record.price),
                tax_code="VAT20" if k % 2 else None,
            )
            if product.product_class_id == shop.gift_card.pk:
                BasketLineAttribute.objects.create(line=line, option=shop.option_list[0],
                                                   value=f"Happy birthday, {shop.person()[0]}!")
                BasketLineAttribute.objects.create(line=line, option=shop.option_list[4],
                                                   value=dt.date(2024, 4, 1 + n % 28))
        if n % 10 == 0:
            basket.vouchers.add(shop.voucher_list[n % len(shop.voucher_list)])
        basket.status = status
        basket.date_merged = shop.later(1) if status == Basket.MERGED else None
        basket.date_submitted = shop.later(1) if status == Basket.SUBMITTED else None
        basket.save()
        shop.basket_list.append(basket)


def orders(shop: Shop) -> None:
    shipped = ShippingEventType.objects.create(name="Shipped")
    returned = ShippingEventType.objects.create(name="Returned")
    paid = PaymentEventType.objects.create(name="Paid")
    refunded = PaymentEventType.objects.create(name="Refunded")
    shop.events = {"shipped": shipped, "returned": returned, "paid": paid, "refunded": refunded}
    shop.source_types = [SourceType.objects.create(name="Bankcard"), SourceType.objects.create(name="PayPal")]
    shop.order_placed = CommunicationEventType.objects.create(
        code="ORDER_PLACED", name="Order placed", category=CommunicationEventType.ORDER_RELATED,
        email_subject_template="Order {{ order.number }} placed",
        email_body_template="Thanks for your order {{ order.number }}.",
        email_body_html_template="<p>Thanks for your order {{ order.number }}.</p>",
        sms_template="Order {{ order.number }} placed",
    )
    for n in range(ORDERS):
        new_order(shop, n)


def new_order(shop: Shop, n: int) -> None:
    guest = n % 8 == 7
    user = None if guest else shop.user_list[n % len(shop.user_list)]
    shipping_address = ShippingAddress.objects.create(**shop.address_fields(1000 + n),
                                                      phone_number=f"+44207946{n % 1000:04d}",
                                                      notes="Ring twice" if n % 5 == 0 else "")
    billing_address = None if n % 6 == 0 else BillingAddress.objects.create(**shop.address_fields(2000 + n))
    status = ("Pending", "Being processed", "Processed", "Cancelled")[n % 4]
    order = Order.objects.create(
        number=f"{100000 + n}", site=shop.site_obj, basket=shop.basket_list[n] if n < BASKETS else None,
        user=user, guest_email=f"guest{n}@example.test" if guest else "", billing_address=billing_address,
        shipping_address=shipping_address, total_incl_tax=Decimal(0), total_excl_tax=Decimal(0),
        shipping_incl_tax=Decimal("4.99"), shipping_excl_tax=Decimal("4.16"), shipping_tax_code="VAT20",
        shipping_method="Standard", shipping_code="standard", status=status,
        date_placed=shop.later(-200 + n * 0.7), analytics_tracked=n % 2 == 0,
    )
    lines = [new_order_line(shop, order, n, k) for k in range(1 + n % 4)]
    order.total_excl_tax = sum(line.line_price_excl_tax for line in lines) + order.shipping_excl_tax
    order.total_incl_tax = sum(line.line_price_incl_tax for line in lines) + order.shipping_incl_tax
    order.save()
    OrderStatusChange.objects.create(order=order, old_status="", new_status="Pending")
    if status != "Pending":
        OrderStatusChange.objects.create(order=order, old_status="Pending", new_status=status)
    if n % 3 == 0:
        OrderNote.objects.create(order=order, user=shop.user_list[0], note_type="Info",
                                 message=f"Customer called about order {order.number}.\nAll fine.")
    CommunicationEvent.objects.create(order=order, event_type=shop.order_placed)
    pay(shop, order, lines, n)
    if status in ("Being processed", "Processed"):
        ship(shop, order, lines, n)
    if n % 7 == 0:
        discount(shop, order, lines, n)
    if n % 9 == 0:
        Surcharge.objects.create(order=order, name="Card fee", code="card-fee", incl_tax=Decimal("1.20"),
                                 excl_tax=Decimal("1.00"), tax_code="VAT20")


def new_order_line(shop: Shop, order: Order, n: int, k: int) -> OrderLine:
    product = shop.product_list[(n * 17 + k * 29) % len(shop.product_list)]
    record = shop.stockrecords[product.pk]
    quantity = 1 + (n + k) % 3
    unit_excl = record.price
    unit_incl = with_tax(unit_excl)
    line = OrderLine.objects.create(
        order=order, partner=record.partner, partner_name=record.partner.name, partner_sku=record.partner_sku,
        partner_line_reference=f"PL-{n}-{k}" if k % 2 else "", stockrecord=record, product=product,
        title=product.get_title(), upc=product.upc, quantity=quantity,
        line_price_incl_tax=unit_incl * quantity, line_price_excl_tax=unit_excl * quantity,
        line_price_before_discounts_incl_tax=unit_incl * quantity,
        line_price_before_discounts_excl_tax=unit_excl * quantity, unit_price_incl_tax=unit_incl,
        unit_price_excl_tax=unit_excl, tax_code="VAT20", status=order.status, num_allocated=quantity,
    )
    LinePrice.objects.create(order=order, line=line, quantity=quantity, price_incl_tax=unit_incl,
                             price_excl_tax=unit_excl, shipping_incl_tax=Decimal("0.00"),
                             shipping_excl_tax=Decimal("0.00"), tax_code="VAT20")
    if product.product_class_id == shop.gift_card.pk or k == 3:
        OrderLineAttribute.objects.create(line=line, option=shop.option_list[0], type="Gift message",
                                          value={"text": f"Für dich, {n}", "lines": [1, 2]})
    return line


def pay(shop: Shop, order: Order, lines: list[OrderLine], n: int) -> None:
    source = Source.objects.create(order=order, source_type=shop.source_types[n % 2],
                                   amount_allocated=order.total_incl_tax, amount_debited=order.total_incl_tax,
                                   amount_refunded=Decimal("0.00") if n % 10 else order.shipping_incl_tax,
                                   reference=f"PSP-{n:06d}", label="Visa" if n % 2 == 0 else "")
    Transaction.objects.create(source=source, txn_type="Debit", amount=order.total_incl_tax,
                               reference=f"TX-{n:06d}", status="OK")
    event = PaymentEvent.objects.create(order=order, amount=order.total_incl_tax, reference=f"PSP-{n:06d}",
                                        event_type=shop.events["paid"])
    for line in lines:
        PaymentEventQuantity.objects.create(event=event, line=line, quantity=line.quantity)
    if n % 10 == 0:
        Transaction.objects.create(source=source, txn_type="Refund", amount=order.shipping_incl_tax,
                                   reference=f"RF-{n:06d}", status="OK")
        PaymentEvent.objects.create(order=order, amount=order.shipping_incl_tax, event_type=shop.events["refunded"])


def ship(shop: Shop, order: Order, lines: list[OrderLine], n: int) -> None:
    event = ShippingEvent.objects.create(order=order, event_type=shop.events["shipped"],
                                         notes=f"Tracking RM{n:09d}GB" if n % 2 else "")
    for line in lines:
        ShippingEventQuantity.objects.create(event=event, line=line, quantity=line.quantity)
    if n % 11 == 0:
        back = ShippingEvent.objects.create(order=order, event_type=shop.events["returned"], notes="Damaged")
        ShippingEventQuantity.objects.create(event=back, line=lines[0], quantity=1)


def discount(shop: Shop, order: Order, lines: list[OrderLine], n: int) -> None:
    voucher = shop.voucher_list[n % len(shop.voucher_list)] if n % 2 else None
    offer = shop.offer_list[3] if voucher else shop.offer_list[0]
    order_discount = OrderDiscount.objects.create(
        order=order, category=OrderDiscount.BASKET, offer_id=offer.pk, voucher_id=voucher.pk if voucher else None,
        frequency=1, amount=Decimal("2.50"), message=f"{offer.name} applied",
    )
    OrderLineDiscount.objects.create(line=lines[0], order_discount=order_discount, is_incl_tax=n % 2 == 0,
                                     amount=Decimal("2.50"))
    if voucher:
        VoucherApplication.objects.create(voucher=voucher, user=order.user, order=order)


def bankcards(shop: Shop) -> None:
    for n in range(5):
        Bankcard.objects.create(user=shop.user_list[n], card_type="Visa", name=" ".join(shop.person()),
                                number=f"4111111111{n:06d}", expiry_date=dt.date(2027, 1 + n, 1),
                                partner_reference=f"tok_{n:08d}")
