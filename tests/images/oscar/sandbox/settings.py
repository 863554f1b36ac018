"""The sandbox's settings (DJANGO_SETTINGS_MODULE=settings in /app/sandbox), read as
oscarcommerce/django-oscar-sandbox reads them: the database from DATABASE_ENGINE, DATABASE_NAME,
DATABASE_USER, DATABASE_PASSWORD, DATABASE_HOST and DATABASE_PORT, and without them the image's own
SQLite file; the host names it answers from ALLOWED_HOSTS (comma-separated). The shop itself is the
tests' Oscar shop (tests/django/oscar_site/common.py)."""

import os
from pathlib import Path

from tests.django.oscar_site.common import *  # noqa: F403

HERE = Path(__file__).resolve().parent

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]

DATABASES = {
    "default": {
        "ENGINE": os.environ.get("DATABASE_ENGINE", "django.db.backends.sqlite3"),
        "NAME": os.environ.get("DATABASE_NAME", str(HERE / "db.sqlite")),
        "USER": os.environ.get("DATABASE_USER"),
        "PASSWORD": os.environ.get("DATABASE_PASSWORD"),
        "HOST": os.environ.get("DATABASE_HOST"),
        "PORT": os.environ.get("DATABASE_PORT"),
        "ATOMIC_REQUESTS": True,
    }
}
OSCAR_CATALOGUE_USE_POSTGRES_MATERIALISED_VIEWS = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

ROOT_URLCONF = "urls"
STATIC_ROOT = str(HERE / "public" / "static")
MEDIA_ROOT = str(HERE / "public" / "media")
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]  # noqa: F405

# What goes wrong goes to standard error, which ECS sends to CloudWatch Logs (with DEBUG off, Django would
# only mail it to ADMINS).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"}},
}
