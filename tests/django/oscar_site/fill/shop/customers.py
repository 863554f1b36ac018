"""The shop's customers and what they leave behind: users with their group, permissions and addresses; wish
lists; analytics records; emails, notifications and stock alerts. Called by management/commands/fill_shop.py,
in its order, each with the Shop.
"""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission, User
from oscar.core.loading import get_model

from tests.django.oscar_site.fill.shop.common import USERS, Shop

UserAddress = get_model("address", "UserAddress")
WishList = get_model("wishlists", "WishList")
WishListLine = get_model("wishlists", "Line")
WishListSharedEmail = get_model("wishlists", "WishListSharedEmail")
ProductRecord = get_model("analytics", "ProductRecord")
UserRecord = get_model("analytics", "UserRecord")
UserProductView = get_model("analytics", "UserProductView")
UserSearch = get_model("analytics", "UserSearch")
Email = get_model("communication", "Email")
Notification = get_model("communication", "Notification")
ProductAlert = get_model("customer", "ProductAlert")


def users(shop: Shop) -> None:
    # make_password draws a fresh salt from the OS each call: one hash with a fixed salt, shared by all.
    password = make_password("frobshop-password", salt="appmodfixedsalt0")
    staff = Group.objects.create(name="Shop staff")
    staff.permissions.set(Permission.objects.filter(content_type__app_label__in=("catalogue", "order")))
    shop.user_list = []
    for n in range(1, USERS + 1):
        first, last = shop.person()
        user = User.objects.create(
            username=f"customer{n:03d}", email=f"customer{n:03d}@example.test", password=password,
            first_name=first, last_name=last, is_staff=n <= 5, is_superuser=n == 1,
            is_active=n % 17 != 0, date_joined=shop.later(-400 + n),
            last_login=None if n % 4 == 0 else shop.later(-n / 3),
        )
        if n <= 5:
            user.groups.add(staff)
        if n in (2, 3):
            user.user_permissions.set(Permission.objects.filter(codename__in=("add_product", "change_product")))
        shop.user_list.append(user)
    for n, user in enumerate(shop.user_list[:100]):
        for k in range(1 + n % 2):  # half the customers keep two addresses
            UserAddress.objects.create(
                user=user, **shop.address_fields(n * 2 + k), phone_number=f"+44207946{n * 2 + k:04d}",
                notes="Leave with neighbour\nif out" if k else "", is_default_for_shipping=k == 0,
                is_default_for_billing=k == 0, num_orders_as_shipping_address=n % 4,
            )


def wishlists(shop: Shop) -> None:
    visibilities = (WishList.PRIVATE, WishList.PUBLIC, WishList.SHARED)
    for n, owner in enumerate(shop.user_list[:60]):
        wishlist = WishList.objects.create(owner=owner, name="Default" if n % 2 else f"Ideas {n}",
                                           visibility=visibilities[n % 3])
        # Oscar draws the key from the OS's random source on insert; a fixed one instead, as Oscar would store.
        WishList.objects.filter(pk=wishlist.pk).update(key=f"w{n:05d}")
        for k in range(3):
            product = shop.product_list[(n * 11 + k * 5) % len(shop.product_list)]
            WishListLine.objects.create(wishlist=wishlist, product=product if k < 2 else None,
                                        quantity=1 + k, title=product.get_title())
        if wishlist.visibility == WishList.SHARED:
            WishListSharedEmail.objects.create(wishlist=wishlist, email=f"friend{n}@example.test")


def analytics(shop: Shop) -> None:
    for n, product in enumerate(shop.product_list[:500]):
        ProductRecord.objects.create(product=product, num_views=n * 3 % 997, num_basket_additions=n % 50,
                                     num_purchases=n % 20, score=round(n % 50 / 7, 6))
    for n, user in enumerate(shop.user_list[:100]):
        UserRecord.objects.create(user=user, num_product_views=n * 5, num_basket_additions=n % 9,
                                  num_orders=n % 4, num_order_lines=n % 7, num_order_items=n % 11,
                                  total_spent=shop.money(0, 900), date_last_order=shop.later(-n) if n % 4 else None)
    for n in range(400):
        product = shop.product_list[n * 3 % len(shop.product_list)]
        UserProductView.objects.create(user=shop.user_list[n % 80], product=product)
    for n in range(150):
        UserSearch.objects.create(user=shop.user_list[n % 90], query=shop.words(1 + n % 3))


def communications(shop: Shop) -> None:
    for n, user in enumerate(shop.user_list[:100]):
        Email.objects.create(user=user, email=user.email, subject=f"Your order {100000 + n}",
                             body_text=f"Hello {user.first_name},\n\nThanks.", body_html=f"<p>Hello {n}</p>")
        Notification.objects.create(recipient=user, sender=shop.user_list[0] if n % 2 else None,
                                    subject=f"Stock update {n}", body=shop.words(6),
                                    location=Notification.INBOX if n % 3 else Notification.ARCHIVE,
                                    date_read=shop.later(1) if n % 2 else None)
    for n, product in enumerate(shop.product_list[:50]):
        status = (ProductAlert.ACTIVE, ProductAlert.CANCELLED, ProductAlert.CLOSED)[n % 3]
        ProductAlert.objects.create(product=product, user=shop.user_list[n + 10], status=status)
