"""`new_product`: makes one new book the way the shop's dashboard would (product, attribute value, category link,
stock record) and prints {model label: pk} as JSON. Called by tests/django/project.py (add_rows, new_product)
on a database after a migration: each insert takes its pk from the table's sequence, so this fails, or
collides with a copied row, unless the migration set the sequences past the copied rows.

On PostgreSQL the category link also makes Oscar refresh the catalogue_product_category_hierarchy view
(REFRESH MATERIALIZED VIEW CONCURRENTLY), which needs the view and its unique index to exist.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from oscar.core.loading import get_model

Category = get_model("catalogue", "Category")
Partner = get_model("partner", "Partner")
Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")
ProductClass = get_model("catalogue", "ProductClass")
StockRecord = get_model("partner", "StockRecord")


class Command(BaseCommand):
    help = "Add one book (with attribute, category and stock record) and print the new rows' pks as JSON."

    def handle(self, *args, **options):
        with transaction.atomic():
            product_class = ProductClass.objects.get(slug="book")
            # A count, not a pk, in the UPC: unique whatever pks the copied rows have.
            n = Product.objects.count() + 1
            product = Product(product_class=product_class, title=f"After the migration #{n}", upc=f"AM{n:010d}")
            product.attr.isbn = f"979-0-{n:05d}-0"
            product.attr.pages = 321
            product.save()
            link = ProductCategory.objects.create(product=product, category=Category.objects.order_by("path").last())
            partner = Partner.objects.order_by("pk").first()
            record = StockRecord.objects.create(product=product, partner=partner, partner_sku=f"AM-{n:06d}",
                                                price=Decimal("12.34"), num_in_stock=5)
        value = product.attribute_values.get(attribute__code="isbn")
        self.stdout.write(json.dumps({
            "catalogue.product": product.pk, "catalogue.productattributevalue": value.pk,
            "catalogue.productcategory": link.pk, "partner.stockrecord": record.pk,
        }))
