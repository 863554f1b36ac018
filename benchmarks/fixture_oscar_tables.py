"""The tables of the `many_small` shape (fixture_many_small.py): a Django Oscar shop's, as Django's migrations make
them on SQLite, with each table's row count in a shop of about 16,000 rows.

Data only, read by fixture_many_small.py, which turns each `Spec` into a CREATE TABLE and its indexes and
fills it. A column is `name:type`:

| type | declared as (NOT NULL unless `?`) |
| --- | --- |
| `v<n>` | `varchar(n)` |
| `t`, `j` | `text`; `j` holds JSON and has Django's `CHECK ((JSON_VALID(c) OR c IS NULL))` |
| `b`, `dt`, `d`, `dec`, `r` | `bool`, `datetime`, `date`, `decimal`, `real` |
| `i`, `s` | `integer`, `smallint` |
| `u`, `us` | `integer unsigned`, `smallint unsigned`, with `CHECK (c >= 0)` |
| `email`, `uuid` | `varchar(254)`, `char(32)` (Django's UUIDField on SQLite) |
| `>table` | a foreign key `name_id` to that table's primary key, `DEFERRABLE INITIALLY DEFERRED`, indexed |

`!` after the type: UNIQUE (values distinct); `?` last: NULL allowed (a quarter of the values are NULL).
Every table has `"id" integer NOT NULL PRIMARY KEY AUTOINCREMENT` first unless `pk` names a text key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    """One table: its default row count, its columns as `name:type` tokens (see _declare), the columns of its
    unique_together and of its other indexes, and its primary key when it is not `id`."""
    name: str
    rows: int
    columns: str
    unique: tuple[str, str] | None = None
    index: tuple[str, ...] = ()
    pk: str | None = None


_ADDRESS = "title:v64 first_name:v255 last_name:v255 line1:v255 line2:v255 line3:v255 line4:v255 state:v255 " \
           "postcode:v64 search_text:t country:>address_country"

SPECS = (
    Spec("django_migrations", 260, "app:v255 name:v255 applied:dt"),
    Spec("django_content_type", 95, "app_label:v100 model:v100!", unique=("app_label", "model")),
    Spec("auth_permission", 380, "content_type:>django_content_type codename:v100! name:v255",
         unique=("content_type_id", "codename")),
    Spec("auth_group", 4, "name:v150!"),
    Spec("auth_group_permissions", 40, "group:>auth_group permission:>auth_permission",
         unique=("group_id", "permission_id")),
    Spec("auth_user", 300, "password:v128 last_login:dt? is_superuser:b username:v150! first_name:v150 "
         "last_name:v150 email:email is_staff:b is_active:b date_joined:dt"),
    Spec("auth_user_groups", 30, "user:>auth_user group:>auth_group", unique=("user_id", "group_id")),
    Spec("auth_user_user_permissions", 20, "user:>auth_user permission:>auth_permission",
         unique=("user_id", "permission_id")),
    Spec("django_admin_log", 500, "action_time:dt object_id:t? object_repr:v200 change_message:t "
         "content_type:>django_content_type? user:>auth_user action_flag:us"),
    Spec("django_session", 400, "session_key:v40! session_data:t expire_date:dt", index=("expire_date",),
         pk="session_key"),
    Spec("django_site", 1, "domain:v100! name:v50"),
    Spec("django_flatpage", 3, "url:v100 title:v200 content:t enable_comments:b template_name:v70 "
         "registration_required:b", index=("url",)),
    Spec("django_flatpage_sites", 3, "flatpage:>django_flatpage site:>django_site", unique=("flatpage_id", "site_id")),
    Spec("django_redirect", 5, "site:>django_site old_path:v200! new_path:v200", unique=("site_id", "old_path")),
    Spec("thumbnail_kvstore", 2000, "key:v200! value:t", pk="key"),
    Spec("address_country", 249, "iso_3166_1_a2:v2! iso_3166_1_a3:v3 iso_3166_1_numeric:v3 printable_name:v128 "
         "name:v128 display_order:us is_shipping_country:b", index=("display_order", "is_shipping_country"),
         pk="iso_3166_1_a2"),
    Spec("address_useraddress", 150, _ADDRESS + " phone_number:v128 notes:t is_default_for_shipping:b "
         "is_default_for_billing:b num_orders_as_shipping_address:u hash:v255 date_created:dt user:>auth_user "
         "num_orders_as_billing_address:u", index=("hash",)),
    Spec("analytics_productrecord", 200, "num_views:u num_basket_additions:u num_purchases:u score:r "
         "product:>catalogue_product!", index=("num_purchases",)),
    Spec("analytics_userproductview", 1500, "date_created:dt product:>catalogue_product user:>auth_user"),
    Spec("analytics_userrecord", 150, "num_product_views:u num_basket_additions:u num_orders:u num_order_lines:u "
         "num_order_items:u total_spent:dec date_last_order:dt? user:>auth_user!", index=("num_orders",)),
    Spec("analytics_usersearch", 300, "query:v255 date_created:dt user:>auth_user", index=("query",)),
    Spec("basket_basket", 400, "status:v128 date_created:dt date_merged:dt? date_submitted:dt? owner:>auth_user?"),
    Spec("basket_line", 700, "line_reference:v128! quantity:u price_currency:v12 price_excl_tax:dec? "
         "price_incl_tax:dec? date_created:dt date_updated:dt basket:>basket_basket product:>catalogue_product "
         "stockrecord:>partner_stockrecord?", unique=("basket_id", "line_reference")),
    Spec("basket_lineattribute", 50, "value:j line:>basket_line option:>catalogue_option"),
    Spec("basket_basket_vouchers", 10, "basket:>basket_basket voucher:>voucher_voucher",
         unique=("basket_id", "voucher_id")),
    Spec("catalogue_attributeoptiongroup", 5, "name:v128"),
    Spec("catalogue_attributeoption", 30, "option:v255! group:>catalogue_attributeoptiongroup",
         unique=("group_id", "option")),
    Spec("catalogue_category", 40, "path:v255! depth:u numchild:u name:v255 description:t image:v255? slug:v255 "
         "is_public:b ancestors_are_public:b meta_title:v255? meta_description:t?", index=("name", "slug")),
    Spec("catalogue_option", 5, "name:v128 code:v128! type:v255 required:b order:i? help_text:v255? "
         "option_group:>catalogue_attributeoptiongroup?", index=("order",)),
    Spec("catalogue_productclass", 4, "name:v128 slug:v128! requires_shipping:b track_stock:b"),
    Spec("catalogue_product", 300, "structure:v10 upc:v64!? is_public:b title:v255 slug:v255 description:t "
         "rating:r? date_created:dt date_updated:dt is_discountable:b parent:>catalogue_product? "
         "product_class:>catalogue_productclass? meta_title:v255? meta_description:t?",
         index=("date_updated", "slug")),
    Spec("catalogue_productattribute", 20, "name:v128 code:v128! type:v20 required:b "
         "option_group:>catalogue_attributeoptiongroup? product_class:>catalogue_productclass?"),
    Spec("catalogue_productattributevalue", 1200, "value_text:t? value_integer:i? value_boolean:b? value_float:r? "
         "value_richtext:t? value_date:d? value_file:v255? value_image:v255? entity_object_id:u? "
         "attribute:>catalogue_productattribute entity_content_type:>django_content_type? "
         "product:>catalogue_product value_option:>catalogue_attributeoption? value_datetime:dt?",
         unique=("attribute_id", "product_id")),
    Spec("catalogue_productattributevalue_value_multi_option", 60,
         "productattributevalue:>catalogue_productattributevalue attributeoption:>catalogue_attributeoption",
         unique=("productattributevalue_id", "attributeoption_id")),
    Spec("catalogue_productcategory", 320, "category:>catalogue_category product:>catalogue_product",
         unique=("category_id", "product_id")),
    Spec("catalogue_productclass_options", 4, "productclass:>catalogue_productclass option:>catalogue_option",
         unique=("productclass_id", "option_id")),
    Spec("catalogue_productimage", 400, "original:v255 caption:v200 display_order:u date_created:dt "
         "product:>catalogue_product", index=("display_order",)),
    Spec("catalogue_productrecommendation", 150, "ranking:us primary:>catalogue_product "
         "recommendation:>catalogue_product", unique=("primary_id", "recommendation_id"), index=("ranking",)),
    Spec("catalogue_product_product_options", 20, "product:>catalogue_product option:>catalogue_option",
         unique=("product_id", "option_id")),
    Spec("communication_communicationeventtype", 10, "code:v128! name:v255 category:v255 email_subject_template:v255? "
         "email_body_template:t? email_body_html_template:t? sms_template:v170? date_created:dt date_updated:dt"),
    Spec("communication_email", 200, "subject:t body_text:t body_html:t date_sent:dt user:>auth_user? email:email?"),
    Spec("communication_notification", 150, "subject:v255 body:t location:v32 date_sent:dt date_read:dt? "
         "recipient:>auth_user sender:>auth_user?"),
    Spec("customer_productalert", 40, "email:email? key:v128 status:v20 date_created:dt date_confirmed:dt? "
         "date_cancelled:dt? date_closed:dt? product:>catalogue_product user:>auth_user?", index=("key",)),
    Spec("offer_range", 10, "name:v128! slug:v128! description:t is_public:b includes_all_products:b "
         "proxy_class:v255!? date_created:dt"),
    Spec("offer_benefit", 12, "type:v128 value:dec? max_affected_items:u? proxy_class:v255? range:>offer_range?"),
    Spec("offer_condition", 12, "type:v128 value:dec? proxy_class:v255? range:>offer_range?"),
    Spec("offer_conditionaloffer", 12, "name:v128! slug:v128! description:t offer_type:v128 exclusive:b "
         "status:v64 condition:>offer_condition benefit:>offer_benefit priority:i start_datetime:dt? "
         "end_datetime:dt? max_global_applications:u? max_user_applications:u? max_basket_applications:u? "
         "max_discount:dec? total_discount:dec num_applications:u num_orders:u redirect_url:v200 date_created:dt"),
    Spec("offer_conditionaloffer_combinations", 6, "from_conditionaloffer:>offer_conditionaloffer "
         "to_conditionaloffer:>offer_conditionaloffer", unique=("from_conditionaloffer_id", "to_conditionaloffer_id")),
    Spec("offer_range_classes", 5, "range:>offer_range productclass:>catalogue_productclass",
         unique=("range_id", "productclass_id")),
    Spec("offer_range_excluded_products", 10, "range:>offer_range product:>catalogue_product",
         unique=("range_id", "product_id")),
    Spec("offer_range_included_categories", 10, "range:>offer_range category:>catalogue_category",
         unique=("range_id", "category_id")),
    Spec("offer_rangeproduct", 100, "display_order:i product:>catalogue_product range:>offer_range",
         unique=("range_id", "product_id")),
    Spec("offer_rangeproductfileupload", 0, "filepath:v255 size:u date_uploaded:dt status:v32 error_message:v255 "
         "date_processed:dt? num_new_skus:u? num_unknown_skus:u? num_duplicate_skus:u? range:>offer_range "
         "uploaded_by:>auth_user"),
    Spec("order_billingaddress", 250, _ADDRESS),
    Spec("order_shippingaddress", 250, _ADDRESS + " phone_number:v128 notes:t"),
    Spec("order_order", 250, "number:v128! currency:v12 total_incl_tax:dec total_excl_tax:dec shipping_incl_tax:dec "
         "shipping_excl_tax:dec shipping_method:v128 shipping_code:v128 status:v100 guest_email:email "
         "date_placed:dt guid:uuid! basket:>basket_basket? billing_address:>order_billingaddress? "
         "shipping_address:>order_shippingaddress? site:>django_site? user:>auth_user? shipping_tax_code:v64? "
         "total_tax_code:v64?", index=("date_placed",)),
    Spec("order_communicationevent", 200, "date_created:dt event_type:>communication_communicationeventtype "
         "order:>order_order"),
    Spec("order_line", 600, "partner_name:v128 partner_sku:v128 partner_line_reference:v128 partner_line_notes:t "
         "title:v255 upc:v128? quantity:u line_price_incl_tax:dec line_price_excl_tax:dec "
         "line_price_before_discounts_incl_tax:dec line_price_before_discounts_excl_tax:dec "
         "unit_price_incl_tax:dec? unit_price_excl_tax:dec? status:v255 order:>order_order partner:>partner_partner? "
         "product:>catalogue_product? stockrecord:>partner_stockrecord? num_allocated:i? tax_code:v64?"),
    Spec("order_lineattribute", 40, "type:v128 value:j line:>order_line option:>catalogue_option?"),
    Spec("order_lineprice", 600, "quantity:u price_incl_tax:dec price_excl_tax:dec shipping_incl_tax:dec "
         "shipping_excl_tax:dec line:>order_line order:>order_order tax_code:v64?"),
    Spec("order_orderdiscount", 80, "category:v64 offer_id:u? offer_name:v128 voucher_id:u? voucher_code:v128 "
         "frequency:u? amount:dec message:t order:>order_order", index=("offer_name", "voucher_code")),
    Spec("order_ordernote", 60, "note_type:v128 message:t date_created:dt date_updated:dt order:>order_order "
         "user:>auth_user?"),
    Spec("order_orderstatuschange", 300, "old_status:v100 new_status:v100 date_created:dt order:>order_order"),
    Spec("order_paymenteventtype", 4, "name:v128! code:v128!"),
    Spec("order_shippingeventtype", 4, "name:v255! code:v128!"),
    Spec("order_shippingevent", 200, "notes:t date_created:dt event_type:>order_shippingeventtype order:>order_order"),
    Spec("order_paymentevent", 250, "amount:dec reference:v128 date_created:dt event_type:>order_paymenteventtype "
         "order:>order_order shipping_event:>order_shippingevent?"),
    Spec("order_paymenteventquantity", 300, "quantity:u event:>order_paymentevent line:>order_line",
         unique=("event_id", "line_id")),
    Spec("order_shippingeventquantity", 250, "quantity:u event:>order_shippingevent line:>order_line",
         unique=("event_id", "line_id")),
    Spec("order_surcharge", 20, "name:v128 code:v128 incl_tax:dec excl_tax:dec order:>order_order tax_code:v64?"),
    Spec("partner_partner", 3, "code:v128! name:v128"),
    Spec("partner_partner_users", 5, "partner:>partner_partner user:>auth_user", unique=("partner_id", "user_id")),
    Spec("partner_partneraddress", 3, _ADDRESS + " partner:>partner_partner"),
    Spec("partner_stockrecord", 320, "partner_sku:v128! price_currency:v12 price:dec? num_in_stock:u? "
         "num_allocated:i? low_stock_threshold:u? date_created:dt date_updated:dt partner:>partner_partner "
         "product:>catalogue_product", unique=("partner_id", "partner_sku"), index=("date_updated",)),
    Spec("partner_stockalert", 20, "threshold:u status:v128 date_created:dt date_closed:dt? "
         "stockrecord:>partner_stockrecord"),
    Spec("payment_bankcard", 30, "card_type:v128 name:v255 number:v32 expiry_date:d partner_reference:v255 "
         "user:>auth_user"),
    Spec("payment_sourcetype", 3, "name:v128 code:v128!"),
    Spec("payment_source", 250, "currency:v12 amount_allocated:dec amount_debited:dec amount_refunded:dec "
         "reference:v255 label:v128 order:>order_order source_type:>payment_sourcetype"),
    Spec("payment_transaction", 300, "txn_type:v128 amount:dec reference:v128 status:v128 date_created:dt "
         "source:>payment_source"),
    Spec("reviews_productreview", 200, "score:s title:v255 body:t name:v255 email:email homepage:v200 status:s "
         "total_votes:i delta_votes:i date_created:dt product:>catalogue_product user:>auth_user",
         unique=("product_id", "user_id"), index=("delta_votes",)),
    Spec("reviews_vote", 300, "delta:s date_created:dt review:>reviews_productreview user:>auth_user",
         unique=("user_id", "review_id")),
    Spec("shipping_orderanditemcharges", 3, "code:v128! name:v128! description:t price_per_order:dec "
         "price_per_item:dec free_shipping_threshold:dec?"),
    Spec("shipping_orderanditemcharges_countries", 30, "orderanditemcharges:>shipping_orderanditemcharges "
         "country:>address_country", unique=("orderanditemcharges_id", "country_id")),
    Spec("shipping_weightbased", 2, "code:v128! name:v128! description:t default_weight:dec"),
    Spec("shipping_weightbased_countries", 40, "weightbased:>shipping_weightbased country:>address_country",
         unique=("weightbased_id", "country_id")),
    Spec("shipping_weightband", 10, "upper_limit:dec charge:dec method:>shipping_weightbased"),
    Spec("voucher_voucherset", 3, "name:v100! count:u code_length:u description:t date_created:dt "
         "start_datetime:dt end_datetime:dt"),
    Spec("voucher_voucher", 60, "name:v128 code:v128! usage:v128 start_datetime:dt end_datetime:dt "
         "num_basket_additions:u num_orders:u total_discount:dec date_created:dt voucher_set:>voucher_voucherset?",
         index=("end_datetime", "start_datetime")),
    Spec("voucher_voucher_offers", 60, "voucher:>voucher_voucher conditionaloffer:>offer_conditionaloffer",
         unique=("voucher_id", "conditionaloffer_id")),
    Spec("voucher_voucherapplication", 40, "date_created:dt order:>order_order user:>auth_user? "
         "voucher:>voucher_voucher"),
    Spec("wishlists_wishlist", 50, "name:v255 key:v6! visibility:v20 date_created:dt owner:>auth_user"),
    Spec("wishlists_line", 150, "quantity:u title:v255 product:>catalogue_product? wishlist:>wishlists_wishlist",
         unique=("wishlist_id", "product_id")),
    Spec("wishlists_wishlistshareduser", 10, "email:email wishlist:>wishlists_wishlist"),
    Spec("catalogue_productattribute_option_groups", 0, "productattribute:>catalogue_productattribute "
         "attributeoptiongroup:>catalogue_attributeoptiongroup",
         unique=("productattribute_id", "attributeoptiongroup_id")),
)
