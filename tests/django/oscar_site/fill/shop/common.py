"""What every part of the shop shares: the seed, fixed start instant and sizes, the word and name lists, the fake
clock, and Shop, which carries the random generator, the clock, helpers drawing on both and what earlier parts
made for later ones. Imported by management/commands/fill_shop.py and by every module of this package.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Oscar's concrete models, for the annotations only; the parts use get_model's
    from django.contrib.auth.models import User
    from django.contrib.sites.models import Site
    from oscar.apps.address.models import Country
    from oscar.apps.basket.models import Basket
    from oscar.apps.catalogue.models import (
        AttributeOption,
        AttributeOptionGroup,
        Category,
        Option,
        Product,
        ProductClass,
    )
    from oscar.apps.catalogue.reviews.models import ProductReview
    from oscar.apps.communication.models import CommunicationEventType
    from oscar.apps.offer.models import ConditionalOffer
    from oscar.apps.order.models import PaymentEventType, ShippingEventType
    from oscar.apps.partner.models import Partner, StockRecord
    from oscar.apps.payment.models import SourceType
    from oscar.apps.voucher.models import Voucher

SEED = 20240301
START = dt.datetime(2024, 3, 1, 9, 0, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(seconds=7, microseconds=250_000)  # sub-second parts, so they have to survive a copy too

# Sizes: 5 roots x 5 x 4 x 3 categories; products per class.
CATEGORY_FANOUT = (5, 5, 4, 3)
BOOKS, TSHIRTS, DOWNLOADS, GIFT_CARDS = 400, 100, 150, 50
TSHIRT_VARIANTS = 3
USERS, ORDERS, BASKETS, REVIEWS = 120, 250, 200, 400

WORDS = (
    "amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbour", "iris", "juniper", "kestrel",
    "lumen", "meadow", "nimbus", "orchid", "pebble", "quartz", "raven", "saffron", "thistle", "umber",
    "velvet", "willow", "xenon", "yarrow", "zephyr",
)
# Names a real catalogue has: accents, Greek, CJK, an emoji, an apostrophe, an ampersand.
ROOTS = ("Books", "Clothing", "Downloads", "Café & Kitchen", "Ελληνικά")
FIRST_NAMES = ("Ada", "Björn", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gráinne", "Hiro", "Ines", "Jürgen",
               "Kofi", "Lena", "Mateo", "Nuala", "Oğuz", "Priya", "Quinn", "Rosa", "Søren", "Tamsin")
LAST_NAMES = ("O'Brien", "Müller", "Núñez", "Smith", "Tanaka", "Van der Berg", "Ødegaard", "Kowalski",
              "Nguyen", "Dubois", "Ivanova", "Achebe")
COUNTRIES = (
    ("GB", "GBR", "826", "United Kingdom", "United Kingdom of Great Britain and Northern Ireland", True),
    ("IE", "IRL", "372", "Ireland", "Ireland", True),
    ("FR", "FRA", "250", "France", "French Republic", True),
    ("DE", "DEU", "276", "Germany", "Federal Republic of Germany", True),
    ("ES", "ESP", "724", "Spain", "Kingdom of Spain", True),
    ("GR", "GRC", "300", "Greece", "Hellenic Republic", True),
    ("JP", "JPN", "392", "Japan", "Japan", True),
    ("US", "USA", "840", "United States", "United States of America", True),
    ("CA", "CAN", "124", "Canada", "Canada", False),
    ("NO", "NOR", "578", "Norway", "Kingdom of Norway", False),
    ("TR", "TUR", "792", "Türkiye", "Republic of Türkiye", False),
    ("CI", "CIV", "384", "Côte d'Ivoire", "Republic of Côte d'Ivoire", False),
)


def with_tax(price: Decimal) -> Decimal:
    """20% VAT, rounded to the penny as Oscar's tax strategies do. Unrounded, SQLite would keep a third decimal
    place that the column's DecimalField(decimal_places=2) forbids (Django does not check it on SQLite, and
    reads it back rounded), and a copy into PostgreSQL's numeric(12,2) would have to refuse or round it."""
    return (price * Decimal("1.2")).quantize(Decimal("0.01"))


class Clock:
    """Stands in for django.utils.timezone.now: the same sequence of instants on every run."""

    def __init__(self, start: dt.datetime, tick: dt.timedelta):
        self.current, self.tick = start, tick

    def __call__(self) -> dt.datetime:
        self.current += self.tick
        return self.current


class Shop:
    """The state the parts share. Every random choice goes through self.rng and every instant through the clock,
    so the parts have to run in fill_shop's order to make the same rows; what a part makes for later ones is kept
    here, under the comment naming the parts that set it."""

    # sitewide.site, sitewide.countries
    site_obj: Site
    country_list: list[Country]
    # customers.users, partners.partners
    user_list: list[User]
    partner_list: list[Partner]
    # catalogue.product_classes
    groups: dict[str, AttributeOptionGroup]  # the groups products' attribute values choose from, by code
    option_list: list[Option]
    book: ProductClass
    tshirt: ProductClass
    download: ProductClass
    gift_card: ProductClass
    # catalogue.categories, catalogue.products
    leaves: list[list[Category]]  # per root, the leaves under it
    binding_options: list[AttributeOption]
    genre_options: list[AttributeOption]
    product_list: list[Product]  # every product that can go into a basket (not the parents)
    # partners.stock, catalogue.reviews
    stockrecords: dict[int, StockRecord]  # each product's first stock record, by the product's pk
    review_list: list[ProductReview]
    # offers.offers, offers.vouchers, orders.baskets
    offer_list: list[ConditionalOffer]
    voucher_list: list[Voucher]
    basket_list: list[Basket]
    # orders.orders
    events: dict[str, ShippingEventType | PaymentEventType]
    source_types: list[SourceType]
    order_placed: CommunicationEventType

    def __init__(self, rng: random.Random, clock: Clock):
        self.rng, self.clock = rng, clock

    def later(self, days: float) -> dt.datetime:
        """An instant `days` after the clock's current one, whole seconds (for dates Oscar leaves to us)."""
        return (self.clock.current + dt.timedelta(days=days)).replace(microsecond=0)

    def money(self, low: int, high: int) -> Decimal:
        return Decimal(self.rng.randint(low * 100, high * 100)) / 100

    def words(self, n: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(n))

    def person(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def address_fields(self, n: int) -> dict:
        first, last = self.person()
        country = self.country_list[n % len(self.country_list)]
        return {
            "title": self.rng.choice(("Mr", "Miss", "Mrs", "Ms", "Dr", "")),
            "first_name": first, "last_name": last,
            "line1": f"{n} {self.words(1).title()} Street", "line2": "Flat 2" if n % 3 == 0 else "",
            "line3": "", "line4": self.rng.choice(("London", "Dublin", "Zürich", "Αθήνα", "大阪")),
            "state": "", "postcode": f"sw{n % 20}a {n % 10}aa", "country": country,
        }
