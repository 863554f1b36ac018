"""Settings of the Oscar shop in the tests (DJANGO_SETTINGS_MODULE=tests.django.oscar_site.settings): the
shared ones (common.py) and the database from APPMOD_DJANGO_DATABASE (tests/django/database.py)."""

from tests.django import database
from tests.django.oscar_site.common import *  # noqa: F403

DATABASES = {"default": database.from_env()}

# Oscar reads product-to-category lookups from the catalogue_product_category_hierarchy materialized view
# when this is on; it can only be on PostgreSQL (on SQLite Oscar warns at every command and ignores it).
# On, the migrated shop depends on the view holding the copied rows, as a real PostgreSQL Oscar site does.
OSCAR_CATALOGUE_USE_POSTGRES_MATERIALISED_VIEWS = database.is_postgresql(DATABASES["default"])
