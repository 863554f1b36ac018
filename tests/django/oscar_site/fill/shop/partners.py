"""Who sells and ships: the partners with their addresses, the stock records of every product, and the
shipping methods with their countries and weight bands. Called by management/commands/fill_shop.py, in its
order, each with the Shop.
"""

from __future__ import annotations

from decimal import Decimal

from oscar.core.loading import get_model

from tests.django.oscar_site.fill.shop.common import Shop

Partner = get_model("partner", "Partner")
PartnerAddress = get_model("partner", "PartnerAddress")
StockRecord = get_model("partner", "StockRecord")
OrderAndItemCharges = get_model("shipping", "OrderAndItemCharges")
WeightBased = get_model("shipping", "WeightBased")
WeightBand = get_model("shipping", "WeightBand")


def partners(shop: Shop) -> None:
    shop.partner_list = []
    for n, name in enumerate(("Frobshop Warehouse", "Bücherwurm GmbH", "Tee & Tee Ltd", "Digital Goods",
                              "Gift Works")):
        partner = Partner.objects.create(name=name)
        partner.users.add(shop.user_list[n])
        PartnerAddress.objects.create(partner=partner, **shop.address_fields(500 + n))
        shop.partner_list.append(partner)


def stock(shop: Shop) -> None:
    shop.stockrecords = {}
    for n, product in enumerate(shop.product_list):
        partners = shop.partner_list[:2] if n % 10 == 0 else [shop.partner_list[n % len(shop.partner_list)]]
        for partner in partners:
            record = StockRecord.objects.create(
                product=product, partner=partner, partner_sku=f"{partner.code}-{n:05d}",
                price=shop.money(1, 120), num_in_stock=None if product.product_class_id == shop.download.pk
                else shop.rng.randint(0, 200), num_allocated=None if n % 3 else shop.rng.randint(0, 5),
                low_stock_threshold=None if n % 4 else 10,
            )
            shop.stockrecords.setdefault(product.pk, record)
    # Selling stock below the threshold: Oscar's receiver opens a StockAlert for each.
    for record in list(shop.stockrecords.values())[::25]:
        if record.low_stock_threshold:
            record.num_in_stock = 2
            record.save()


def shipping_methods(shop: Shop) -> None:
    standard = OrderAndItemCharges.objects.create(name="Standard", description="3-5 days",
                                                  price_per_order=Decimal("2.99"), price_per_item=Decimal("0.50"),
                                                  free_shipping_threshold=Decimal("50.00"))
    express = OrderAndItemCharges.objects.create(name="Express", price_per_order=Decimal("9.99"))
    heavy = WeightBased.objects.create(name="Heavy goods", default_weight=Decimal("1.500"))
    # One at a time: add() of several inserts them in the order of a Python set, and a set of strings (these
    # pks) has a different order in every process, so the through rows' ids would differ between builds.
    for method, count in ((standard, 8), (express, 2), (heavy, 4)):
        for country in shop.country_list[:count]:
            method.countries.add(country)
    for limit, charge in ((1, "3.00"), (5, "7.50"), (10, "12.00"), (25, "20.00"), (Decimal("99.999"), "45.00")):
        WeightBand.objects.create(method=heavy, upper_limit=limit, charge=Decimal(charge))
