"""The database a project's settings point at, read from APPMOD_DJANGO_DATABASE; imported by both projects'
settings modules (and so run in the Django subprocesses that tests/django/project.py starts).

The variable holds either a SQLite file's path or a postgresql:// URL, so one settings module serves both the
source side (SQLite, as the legacy app ships it) and the target side (PostgreSQL, after a migration).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

VARIABLE = "APPMOD_DJANGO_DATABASE"


def from_env() -> dict:
    """Django's DATABASES["default"] for the database named in APPMOD_DJANGO_DATABASE."""
    value = os.environ.get(VARIABLE)
    if not value:
        # Failing here rather than defaulting to a file in the work tree: a forgotten variable must not
        # quietly make (and later compare) some other database.
        raise RuntimeError(f"{VARIABLE} is not set: a SQLite file's path or a postgresql:// URL")
    return parse(value)


def is_url(value: str) -> bool:
    """Whether `value` names a PostgreSQL database (a URL) rather than a SQLite file."""
    return str(value).startswith(("postgresql://", "postgres://"))


def parse(value: str) -> dict:
    if is_url(value):
        return _postgresql(value)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(Path(value).resolve()),
        # Django's migrate commits once per migration (160 of them for Oscar), each an fsync by default: off,
        # for this connection only. It changes nothing in the file, which is what the migration tests read.
        "OPTIONS": {"init_command": "PRAGMA synchronous = OFF"},
    }


def _postgresql(url: str) -> dict:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # sslmode, connect_timeout and the like are libpq's options; psycopg (3) takes them as keywords.
        "OPTIONS": dict(parse_qsl(parts.query)),
    }


def is_postgresql(database: dict) -> bool:
    return database["ENGINE"] == "django.db.backends.postgresql"


def media_root() -> str:
    """Where uploads would go. The fill commands store file names only and write no files; a folder outside
    the work tree all the same, so that a stray upload can never land in the repository."""
    path = Path(os.environ.get("APPMOD_DJANGO_MEDIA") or Path(tempfile.gettempdir()) / "appmod-django-media")
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
