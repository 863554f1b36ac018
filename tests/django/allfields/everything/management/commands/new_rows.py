"""`new_rows`: one new row in each allfields model, pks from the database, printed as {model label: pk} JSON.
Called by tests/django/project.py (add_rows) after a migration: every auto-field kind (AutoField,
BigAutoField, SmallAutoField) must continue past the copied rows, including the far-off pks fill_allfields
set by hand, or these inserts collide."""

from __future__ import annotations

import json
import uuid

from django.core.management.base import BaseCommand
from django.db import transaction

from tests.django.allfields.everything.models import Computed, Detail, Everything, Parent, Tag, Token


class Command(BaseCommand):
    help = "Insert one row per allfields model and print the new pks as JSON."

    def handle(self, *args, **options):
        with transaction.atomic():
            n = Parent.objects.count() + 1
            parent = Parent.objects.create(name=f"After the migration {n}")
            tag = Tag.objects.create(label=f"after-{n}")
            row = Everything.objects.create(char="after the migration", parent=parent, data={"after": n},
                                            uuid=uuid.uuid4())
            row.tags.add(tag)
            detail = Detail.objects.create(everything=row, note="new")
            token = Token.objects.create(id=uuid.uuid4(), owner=parent, everything=row)
            computed = Computed.objects.create(width=n, height=2, name="New")
        self.stdout.write(json.dumps({
            "allfields.parent": parent.pk, "allfields.tag": tag.pk, "allfields.everything": row.pk,
            "allfields.detail": detail.pk, "allfields.token": str(token.pk), "allfields.computed": computed.pk,
        }))
