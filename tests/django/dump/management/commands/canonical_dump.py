"""`canonical_dump`: every row of every model as JSON, in one order on any database; read by
tests/django/project.py (dumpdata) to compare a SQLite source with the PostgreSQL it was migrated to.

The rows are the ones `dumpdata --all` would write (each model Django migrates, through its base manager, so
no custom manager hides rows), serialized by Django's own serializer, less unmanaged models (see
dumped_models). What differs from dumpdata's JSON is there so that a difference between two databases can
neither hide nor appear by accident:
- datetimes and times keep their microseconds (dumpdata's encoder cuts them to milliseconds);
- decimals are written in fixed-point notation, never as "1E-10";
- the pk lists of many-to-many fields are sorted (dumpdata leaves their order to the database);
- records are sorted by model label and pk.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

from django.apps import apps
from django.core import serializers
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, router


class Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, dt.datetime | dt.date | dt.time):
            return o.isoformat()
        if isinstance(o, decimal.Decimal):
            # str() would write Decimal("-0.0000000001") as "-1E-10", or not, depending on how the driver
            # built the Decimal; "f" writes the same number at the same scale the same way.
            return format(o, "f")
        if isinstance(o, uuid.UUID):
            return str(o)
        return super().default(o)


def dumped_models() -> list:
    """The models dumpdata dumps (not proxies, migrated here), less the unmanaged ones. The only one in these
    projects is Oscar's ProductCategoryHierarchy: a materialized view PostgreSQL derives from other tables,
    absent on SQLite (dumpdata itself fails there on it: "no such table"). Tests that need the view query it."""
    return [
        model
        for config in apps.get_app_configs()
        for model in config.get_models()
        if not model._meta.proxy and model._meta.managed and router.allow_migrate_model(DEFAULT_DB_ALIAS, model)
    ]


def _pk_key(value) -> tuple:
    return (type(value).__name__, value)


def records(model) -> list[dict]:
    rows = serializers.serialize("python", model._base_manager.order_by("pk"))
    m2m = [field.name for field in model._meta.many_to_many]
    for row in rows:
        for name in m2m:
            if name in row["fields"]:
                row["fields"][name] = sorted(row["fields"][name], key=_pk_key)
    return rows


class Command(BaseCommand):
    help = "Print every model's rows as JSON, sorted by model label and pk, with full-precision times."

    def handle(self, *args, **options):
        everything = [row for model in sorted(dumped_models(), key=lambda m: m._meta.label_lower)
                      for row in records(model)]
        everything.sort(key=lambda row: (row["model"], _pk_key(row["pk"])))
        self.stdout.write(json.dumps(everything, cls=Encoder, ensure_ascii=False, sort_keys=True))
