"""Settings of the every-field-type project (DJANGO_SETTINGS_MODULE=tests.django.allfields.settings); the
database comes from APPMOD_DJANGO_DATABASE (tests/django/database.py)."""

from tests.django import database

SECRET_KEY = "appmod-tests-allfields-not-secret"
DEBUG = False
DATABASES = {"default": database.from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "tests.django.allfields.everything",
    "tests.django.dump",
]

USE_TZ = True
# Not UTC, so that an aware value read back in the wrong zone shows (the databases hold UTC either way).
TIME_ZONE = "Asia/Kolkata"

MEDIA_ROOT = database.media_root()
