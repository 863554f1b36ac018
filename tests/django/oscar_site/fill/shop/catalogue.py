"""The catalogue: attribute option groups, basket options and product classes with an attribute of every type
Oscar has; the category tree; the products (books, t-shirts with their variants, downloads, gift cards) with
attribute values, images, category links and recommendations; and the products' reviews and votes. Called by
management/commands/fill_shop.py, in its order, each with the Shop.
"""

from __future__ import annotations

import datetime as dt
import itertools

from oscar.core.loading import get_model

from tests.django.oscar_site.fill.shop.common import (
    BOOKS,
    CATEGORY_FANOUT,
    DOWNLOADS,
    GIFT_CARDS,
    REVIEWS,
    ROOTS,
    TSHIRT_VARIANTS,
    TSHIRTS,
    WORDS,
    Shop,
)

AttributeOption = get_model("catalogue", "AttributeOption")
AttributeOptionGroup = get_model("catalogue", "AttributeOptionGroup")
Category = get_model("catalogue", "Category")
Option = get_model("catalogue", "Option")
Product = get_model("catalogue", "Product")
ProductAttribute = get_model("catalogue", "ProductAttribute")
ProductCategory = get_model("catalogue", "ProductCategory")
ProductClass = get_model("catalogue", "ProductClass")
ProductImage = get_model("catalogue", "ProductImage")
ProductRecommendation = get_model("catalogue", "ProductRecommendation")
ProductReview = get_model("reviews", "ProductReview")
Vote = get_model("reviews", "Vote")


def product_classes(shop: Shop) -> None:
    binding = option_group("Binding", ["Hardback", "Paperback", "Spiral", "Board"], "binding")
    genre = option_group("Genre", ["Crime", "Fantasy", "History", "Poetry", "Science", "Travel",
                                   "Cookery", "Biography"], "genre")
    colour = option_group("Colour", ["Red", "Green", "Blue", "Black", "White"], "colour")
    size = option_group("Size", ["S", "M", "L", "XL"], "size")
    wrapping = option_group("Wrapping", ["None", "Paper", "Box"], "wrapping")
    shop.groups = {"binding": binding, "genre": genre, "colour": colour, "size": size}

    # Basket/order options, one of each of Oscar's option types.
    shop.option_list = [
        Option.objects.create(name="Gift message", code="gift-message", type=Option.TEXT, order=1),
        Option.objects.create(name="Number of cards", code="cards", type=Option.INTEGER, order=2),
        Option.objects.create(name="Card weight", code="card-weight", type=Option.FLOAT, order=3),
        Option.objects.create(name="Signed", code="signed", type=Option.BOOLEAN, order=4),
        Option.objects.create(name="Delivery date", code="delivery-date", type=Option.DATE, order=5),
        Option.objects.create(name="Wrapping", code="wrapping", type=Option.SELECT, option_group=wrapping,
                              order=6, required=True),
        Option.objects.create(name="Ribbon", code="ribbon", type=Option.RADIO, option_group=colour, order=7),
        Option.objects.create(name="Extras", code="extras", type=Option.MULTI_SELECT, option_group=wrapping,
                              order=8),
        Option.objects.create(name="Cards", code="card-choice", type=Option.CHECKBOX, option_group=size,
                              order=9, help_text="Pick any"),
    ]

    pa = ProductAttribute
    shop.book = ProductClass.objects.create(name="Book", slug="book")
    for name, code, type_, extra in (
        ("ISBN", "isbn", pa.TEXT, {"required": True}), ("Pages", "pages", pa.INTEGER, {}),
        ("Hardcover", "hardcover", pa.BOOLEAN, {}), ("Weight (kg)", "weight", pa.FLOAT, {}),
        ("Blurb", "blurb", pa.RICHTEXT, {}), ("Published", "published", pa.DATE, {}),
        ("Launch event", "launch", pa.DATETIME, {}), ("Binding", "binding", pa.OPTION, {"option_group": binding}),
        ("Genres", "genres", pa.MULTI_OPTION, {"option_group": genre}), ("Sample", "sample", pa.FILE, {}),
        ("Cover", "cover", pa.IMAGE, {}), ("Publisher", "publisher", pa.ENTITY, {}),
    ):
        pa.objects.create(product_class=shop.book, name=name, code=code, type=type_, **extra)

    shop.tshirt = ProductClass.objects.create(name="T-shirt", slug="t-shirt")
    pa.objects.create(product_class=shop.tshirt, name="Colour", code="colour", type=pa.OPTION, option_group=colour)
    pa.objects.create(product_class=shop.tshirt, name="Size", code="size", type=pa.OPTION, option_group=size)
    pa.objects.create(product_class=shop.tshirt, name="Cotton %", code="cotton", type=pa.INTEGER)
    pa.objects.create(product_class=shop.tshirt, name="Fit", code="fit", type=pa.TEXT)

    shop.download = ProductClass.objects.create(name="Download", slug="download", requires_shipping=False,
                                                track_stock=False)
    pa.objects.create(product_class=shop.download, name="Size (MB)", code="size_mb", type=pa.FLOAT)
    pa.objects.create(product_class=shop.download, name="DRM free", code="drm_free", type=pa.BOOLEAN)

    shop.gift_card = ProductClass.objects.create(name="Gift card", slug="gift-card", requires_shipping=False)
    shop.gift_card.options.set(shop.option_list[:6])


def option_group(name: str, options: list[str], code: str) -> AttributeOptionGroup:
    group = AttributeOptionGroup.objects.create(name=name, code=code)
    for option in options:
        AttributeOption.objects.create(group=group, option=option, code=option.lower().replace(" ", "-"))
    return group


def options_of(shop: Shop, group: str) -> list[AttributeOption]:
    # AttributeOption has no Meta.ordering: by pk, or the choice would depend on the database's whim.
    return list(shop.groups[group].options.order_by("pk"))


def categories(shop: Shop) -> None:
    """A tree CATEGORY_FANOUT deep, made as a shop owner would: one node at a time, through treebeard."""
    shop.leaves = []
    names = iter(itertools.product(WORDS, repeat=2))
    for r, root_name in enumerate(ROOTS[: CATEGORY_FANOUT[0]]):
        root = Category.add_root(name=root_name, description=f"<p>All of {root_name}</p>")
        leaves = []
        level = [root]
        for depth, fanout in enumerate(CATEGORY_FANOUT[1:], start=2):
            children = []
            for parent in level:
                for _ in range(fanout):
                    a, b = next(names)
                    children.append(parent.add_child(
                        name=f"{a.title()} {b}" if depth < 4 else f"{a.title()} {b} ({r}.{len(children)})",
                        description=shop.words(8), is_public=shop.rng.random() > 0.05,
                        meta_title=None if depth % 2 else f"{a} {b}", meta_description=None,
                        exclude_from_menu=depth == 4 and shop.rng.random() < 0.1,
                    ))
            level = children
        leaves.extend(level)
        shop.leaves.append(leaves)


def products(shop: Shop) -> None:
    shop.product_list = []
    shop.binding_options, shop.genre_options = options_of(shop, "binding"), options_of(shop, "genre")
    for n in range(1, BOOKS + 1):
        shop.product_list.append(new_book(shop, n))
    for n in range(1, TSHIRTS + 1):
        new_tshirt(shop, n)
    for n in range(1, DOWNLOADS + 1):
        product = Product(product_class=shop.download, title=f"Download: {shop.words(2)} #{n}",
                          upc=f"DL{n:06d}", description=shop.words(12))
        product.attr.size_mb = round(shop.rng.uniform(0.1, 4000), 3)
        if n % 3:
            product.attr.drm_free = n % 2 == 0
        product.save()
        categorise(shop, product, 2)
        shop.product_list.append(product)
    for n in range(1, GIFT_CARDS + 1):
        product = Product.objects.create(product_class=shop.gift_card, title=f"Gift card £{n * 5}",
                                         upc=f"GC{n:06d}", is_discountable=False)
        product.product_options.set(shop.option_list[6:] if n % 2 else [])
        categorise(shop, product, 3)
        shop.product_list.append(product)
    for n, primary in enumerate(shop.product_list[:200]):
        ProductRecommendation.objects.create(primary=primary, recommendation=shop.product_list[-1 - n],
                                             ranking=n % 5)


def new_book(shop: Shop, n: int) -> Product:
    product = Product(
        product_class=shop.book, title=f"The {shop.words(2).title()} #{n}", upc=f"978{n:010d}",
        description=f"A book about {shop.words(5)}.\n\nSecond paragraph:\ttabbed, \"quoted\" and \\slashed\\.",
        meta_title=f"Book {n}" if n % 5 == 0 else None, is_public=n % 23 != 0, priority=n % 7 - 3,
        is_discountable=n % 11 != 0,
    )
    attr = product.attr
    attr.isbn = f"978-0-{n:05d}-{n % 10}"
    if n % 9:
        attr.pages = shop.rng.randint(1, 1500)
    attr.hardcover = n % 2 == 0
    if n % 4:
        attr.weight = round(shop.rng.uniform(0.05, 3.0), 4)
    if n % 3 == 0:
        attr.blurb = f"<p>{shop.words(10)}</p><ul><li>ünïcödé</li><li>{n}</li></ul>"
    attr.published = dt.date(1900 + n % 125, 1 + n % 12, 1 + n % 28)
    if n % 6 == 0:
        attr.launch = shop.later(n)
    attr.binding = shop.binding_options[n % 4]
    attr.genres = shop.genre_options[n % 5: n % 5 + 1 + n % 3]
    if n % 10 == 0:
        attr.sample = f"samples/book-{n:04d}.pdf"
    if n % 8 == 0:
        attr.cover = f"covers/book-{n:04d}.jpg"
    if n % 7 == 0:
        attr.publisher = shop.partner_list[n % len(shop.partner_list)]
    product.save()
    categorise(shop, product, 0)
    if n % 2:
        ProductImage.objects.create(product=product, original=f"images/products/2024/03/book-{n:04d}.jpg",
                                    caption=f"Cover of book {n}" if n % 4 == 1 else "", display_order=0)
        if n % 5 == 1:
            ProductImage.objects.create(product=product, original=f"images/products/2024/03/back-{n:04d}.png",
                                        display_order=1)
    return product


def new_tshirt(shop: Shop, n: int) -> None:
    parent = Product(structure=Product.PARENT, product_class=shop.tshirt,
                     title=f"{shop.words(1).title()} tee #{n}", upc=f"TS{n:06d}")
    parent.attr.cotton = 100 - n % 40
    parent.attr.fit = shop.rng.choice(("slim", "regular", "relaxed"))
    parent.save()
    categorise(shop, parent, 1)
    colours, sizes = options_of(shop, "colour"), options_of(shop, "size")
    for v in range(TSHIRT_VARIANTS):
        colour, size = colours[(n + v) % 5], sizes[v % 4]
        child = Product(structure=Product.CHILD, parent=parent, title="" if v == 0 else f"{colour} / {size}",
                        upc=f"TS{n:06d}-{v}")
        child.attr.colour = colour
        child.attr.size = size
        child.save()
        shop.product_list.append(child)


def categorise(shop: Shop, product: Product, root: int) -> None:
    """Links `product` to a leaf under ROOTS[root]; every 12th also to a leaf under another root, so
    the view's rows are not simply links x depth on one branch."""
    n = product.pk
    leaves = shop.leaves[root]
    ProductCategory.objects.create(product=product, category=leaves[n % len(leaves)])
    if n % 12 == 0:
        other = shop.leaves[(root + 1 + n % 4) % len(shop.leaves)]
        ProductCategory.objects.create(product=product, category=other[(n * 7) % len(other)])


def reviews(shop: Shop) -> None:
    shop.review_list = []
    reviewed = shop.product_list[:REVIEWS]
    for n, product in enumerate(reviewed):
        anonymous = n % 10 == 9
        user = None if anonymous else shop.user_list[n % len(shop.user_list)]
        # product_id, not the product: Oscar re-saves the review's product (its rating) after every review
        # and vote, and a product whose attributes were set here would re-save all of them each time.
        review = ProductReview.objects.create(
            product_id=product.pk, score=n % 6, title=f"{shop.words(3).capitalize()}!",
            body=f"{shop.words(20)}\nRated {n % 6}/5 — {'😀' if n % 2 else 'meh'}", user=user,
            name=f"Guest {n}" if anonymous else "", email=f"guest{n}@example.test" if anonymous else "",
            homepage="https://guest.example.test/" if anonymous and n % 20 == 9 else "",
            status=ProductReview.APPROVED if n % 7 else ProductReview.FOR_MODERATION,
        )
        shop.review_list.append(review)
    for n, review in enumerate(shop.review_list[:300]):
        voter = shop.user_list[(n * 7 + 3) % len(shop.user_list)]
        if voter != review.user:
            Vote.objects.create(review=review, user=voter, delta=Vote.UP if n % 3 else Vote.DOWN)
