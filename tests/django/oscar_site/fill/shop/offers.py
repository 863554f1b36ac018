"""Selling: product ranges, the conditional offers with their conditions and benefits, and the vouchers (a
voucher set and single ones) that carry the voucher offers. Called by management/commands/fill_shop.py, in its
order, each with the Shop.
"""

from __future__ import annotations

from decimal import Decimal

from oscar.core.loading import get_model

from tests.django.oscar_site.fill.shop.common import BOOKS, Shop

Range = get_model("offer", "Range")
Condition = get_model("offer", "Condition")
Benefit = get_model("offer", "Benefit")
ConditionalOffer = get_model("offer", "ConditionalOffer")
RangeProductFileUpload = get_model("offer", "RangeProductFileUpload")
Voucher = get_model("voucher", "Voucher")
VoucherSet = get_model("voucher", "VoucherSet")


def offers(shop: Shop) -> None:
    all_products = Range.objects.create(name="Everything", includes_all_products=True, is_public=True)
    books = Range.objects.create(name="Books on offer", description="Selected books")
    for n, product in enumerate(shop.product_list[:BOOKS:2]):
        books.add_product(product, display_order=n)
    books.classes.add(shop.book)
    books.included_categories.add(shop.leaves[0][0])
    books.excluded_products.add(shop.product_list[1])
    clothes = Range.objects.create(name="Clothes", is_public=True)
    clothes.classes.add(shop.tshirt)
    clothes.excluded_categories.add(shop.leaves[1][-1])
    RangeProductFileUpload.objects.create(range=books, filepath="uploads/books.csv", size=2048,
                                          uploaded_by=shop.user_list[0], status="Processed",
                                          date_processed=shop.later(1), num_new_skus=120, num_unknown_skus=3,
                                          num_duplicate_skus=0)
    specs = (
        ("10% off books", books, Condition.COUNT, 2, Benefit.PERCENTAGE, 10, ConditionalOffer.SITE),
        ("£5 off £50", all_products, Condition.VALUE, 50, Benefit.FIXED, 5, ConditionalOffer.SITE),
        ("3 for 2 tees", clothes, Condition.COUNT, 3, Benefit.MULTIBUY, None, ConditionalOffer.SITE),
        ("Voucher 15%", all_products, Condition.COUNT, 1, Benefit.PERCENTAGE, 15, ConditionalOffer.VOUCHER),
        ("Voucher £10", all_products, Condition.VALUE, 30, Benefit.FIXED, 10, ConditionalOffer.VOUCHER),
        ("Loyal customers", books, Condition.COVERAGE, 2, Benefit.FIXED_PRICE, 20, ConditionalOffer.USER),
        ("Free shipping", all_products, Condition.VALUE, 25, Benefit.SHIPPING_PERCENTAGE, 100,
         ConditionalOffer.SESSION),
    )
    shop.offer_list = []
    for n, (name, rng_, ctype, cvalue, btype, bvalue, otype) in enumerate(specs):
        condition = Condition.objects.create(range=rng_, type=ctype, value=cvalue)
        benefit = Benefit.objects.create(range=rng_, type=btype, value=bvalue,
                                         max_affected_items=2 if btype == Benefit.MULTIBUY else None)
        shop.offer_list.append(ConditionalOffer.objects.create(
            name=name, description=f"<p>{name}</p>", offer_type=otype, exclusive=n % 2 == 0,
            condition=condition, benefit=benefit, priority=10 - n,
            start_datetime=shop.later(-30) if n % 3 else None, end_datetime=shop.later(60) if n % 2 else None,
            max_global_applications=None if n % 4 else 1000, max_user_applications=None if n % 3 else 2,
            max_discount=Decimal("100.00") if n == 1 else None,
        ))
    shop.offer_list[1].combinations.add(shop.offer_list[2], shop.offer_list[6])


def vouchers(shop: Shop) -> None:
    voucher_set = VoucherSet.objects.create(name="Spring mailing", count=10, code_length=10,
                                            description="Sent to the newsletter", start_datetime=shop.later(-10),
                                            end_datetime=shop.later(80))
    shop.voucher_list = []
    for n in range(25):
        voucher = Voucher.objects.create(
            name=f"Voucher {n:02d}", code=f"spring{n:04d}x",  # Oscar upper-cases the code on save
            usage=(Voucher.SINGLE_USE, Voucher.MULTI_USE, Voucher.ONCE_PER_CUSTOMER)[n % 3],
            start_datetime=shop.later(-10), end_datetime=shop.later(80 + n),
            voucher_set=voucher_set if n < 10 else None, num_basket_additions=n, num_orders=n // 2,
        )
        voucher.offers.add(shop.offer_list[3 + n % 2])
        shop.voucher_list.append(voucher)
