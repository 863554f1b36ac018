"""The site-wide parts of the shop: the sites, the countries, flat pages, admin log entries, thumbnail cache
entries and sessions. Called by management/commands/fill_shop.py, in its order, each with the Shop.
"""

from __future__ import annotations

from unittest import mock

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.flatpages.models import FlatPage
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.contrib.sites.models import Site
from django.core import signing
from oscar.core.loading import get_model
from sorl.thumbnail.models import KVStore

from tests.django.oscar_site.fill.shop.common import COUNTRIES, START, Shop

Country = get_model("address", "Country")
Product = get_model("catalogue", "Product")


def site(shop: Shop) -> None:
    # Django's migrate makes site 1 as example.com; a real shop renames it.
    Site.objects.filter(pk=1).update(domain="shop.example.test", name="Frobshop")
    shop.site_obj = Site.objects.get(pk=1)
    Site.objects.create(domain="staging.example.test", name="Frobshop staging")


def countries(shop: Shop) -> None:
    for order, (a2, a3, numeric, printable, name, ships) in enumerate(COUNTRIES):
        Country.objects.create(iso_3166_1_a2=a2, iso_3166_1_a3=a3, iso_3166_1_numeric=numeric,
                               printable_name=printable, name=name, display_order=order,
                               is_shipping_country=ships)
    shop.country_list = list(Country.objects.order_by("display_order"))


def flatpages(shop: Shop) -> None:
    for url, title in (("/about/", "About us"), ("/delivery/", "Delivery"), ("/privacy/", "Privacy")):
        page = FlatPage.objects.create(url=url, title=title, content=f"<h1>{title}</h1>\n<p>{shop.words(30)}</p>",
                                       registration_required=url == "/privacy/")
        page.sites.add(shop.site_obj)


def admin_log(shop: Shop) -> None:
    product_type = ContentType.objects.get_for_model(Product)
    for n, product in enumerate(shop.product_list[:30]):
        LogEntry.objects.create(
            action_time=shop.later(n / 24), user=shop.user_list[n % 5], content_type=product_type,
            object_id=str(product.pk), object_repr=str(product)[:200], action_flag=ADDITION if n % 2 else CHANGE,
            change_message='[{"changed": {"fields": ["Title"]}}]' if n % 2 == 0 else "",
        )


def thumbnails(shop: Shop) -> None:
    for n in range(10):
        KVStore.objects.create(key=f"sorl-thumbnail||image||{n:032x}",
                               value=f'{{"name": "images/products/2024/03/book-{n:04d}.jpg", "size": [400, 600]}}')


def sessions(shop: Shop) -> None:
    # Session data is signed with the time of signing; a fixed one, so the encoding is the same every run.
    fixed = signing.b62_encode(int(START.timestamp()))
    with mock.patch.object(signing.TimestampSigner, "timestamp", lambda self: fixed):
        for n in range(8):
            data = SessionStore().encode({"_auth_user_id": str(shop.user_list[n].pk), "basket": n})
            Session.objects.create(session_key=f"appmod{n:026d}", session_data=data,
                                   expire_date=shop.later(14))
