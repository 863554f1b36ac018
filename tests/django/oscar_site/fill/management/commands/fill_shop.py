"""`fill_shop`: fills a freshly migrated shop database through Oscar's models, the same rows on every run.

Called by tests/django/project.py (build_sqlite) after `migrate`. What it makes, roughly: a four-level
category tree of 430 categories; product classes with an attribute of every type Oscar has; about a thousand
products (standalone, parents and children) with attribute values, images, stock records and options; users
with addresses, baskets, orders with everything an order carries, payments, reviews and votes, vouchers and
offers, wish lists, analytics and messages. On PostgreSQL the product-to-category links make the
catalogue_product_category_hierarchy view about 3,000 rows once refreshed (four per link, one per level).
The parts that make them live in tests/django/oscar_site/fill/shop/, one module per concern; this command
runs them in order.

Deterministic: choices come from one seeded random.Random, and Django's clock (django.utils.timezone.now,
which every auto_now/auto_now_add field and most of Oscar reads) is a fake that starts at a fixed instant
and ticks a fixed step per call. What Oscar draws from the operating system's random source instead (wish
list keys, password salts) is set to fixed values here.
"""

from __future__ import annotations

import random
from unittest import mock

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from oscar.core.loading import get_model

from tests.django.oscar_site.fill.shop import catalogue, customers, offers, orders, partners, sitewide
from tests.django.oscar_site.fill.shop.common import SEED, START, TICK, Clock, Shop

Category = get_model("catalogue", "Category")
Order = get_model("order", "Order")
Product = get_model("catalogue", "Product")

# The parts, in the order they run. Later parts use what earlier ones made, and all draw on one random
# generator and one clock: reordered, they would make other rows (or fail), so append, do not reorder.
PARTS = (
    sitewide.site, sitewide.countries, customers.users, partners.partners,
    catalogue.product_classes, catalogue.categories, catalogue.products, partners.stock, catalogue.reviews,
    offers.offers, offers.vouchers, orders.baskets, orders.orders,
    customers.wishlists, customers.analytics, customers.communications, partners.shipping_methods,
    sitewide.flatpages, orders.bankcards, sitewide.admin_log, sitewide.thumbnails, sitewide.sessions,
)


class Command(BaseCommand):
    help = "Fill an empty, migrated Oscar database with a deterministic shop (through Oscar's models)."

    def handle(self, *args, **options):
        if Product.objects.exists():
            raise SystemExit("fill_shop: the database already has products; fill_shop fills an empty shop")
        clock = Clock(START, TICK)
        shop = Shop(random.Random(SEED), clock)
        # One transaction: a partly filled shop never looks like a filled one, and SQLite writes once.
        with mock.patch.object(timezone, "now", clock), transaction.atomic():
            for part in PARTS:
                part(shop)
        counts = {m._meta.db_table: m._default_manager.count() for m in (Category, Product, Order, User)}
        self.stdout.write(" ".join(f"{table}={n}" for table, n in counts.items()))
