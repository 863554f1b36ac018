"""`fill_allfields`: the same edge values on every run, through the allfields models; called by
tests/django/project.py (build_sqlite) after `migrate`.

One Everything row has every nullable column NULL; the others hold the extremes of each type (integer
limits, sub-second and negative durations, microseconds, year 1 and 9999, IPv6, JSON that jsonb would
reorder, bytes 0-255, text with tabs, CR/LF, backslashes, quotes and non-BMP characters). Pks have gaps
and one far-off value (rows deleted, one set by hand), as a database that has been in use has.

SQLite itself stores -0.0 as 0.0 (so the -0.0 written here reads back as 0.0 from the source already).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from tests.django.allfields.everything.models import Computed, Detail, Everything, Parent, Tag, Token

UTC = dt.UTC
KOLKATA = dt.timezone(dt.timedelta(hours=5, minutes=30))

TEXT = "Tab\there\nnewline\r\nCRLF \\backslash\\ 'single' \"double\" ünïcødé Ελληνικά 日本語 עברית 😀 e\u0301"
# Keys out of jsonb's order (it sorts by length, then bytes) and nested values of every JSON type.
JSON_NESTED = {
    "zeta": 1, "b": [3, 2, 1], "aa": {"y": None, "x": True, "nested": [{"k": "v"}, [], {}]},
    "a": "ünïcødé 😀 \"quoted\" \\ /", "float": 0.1, "big": 9007199254740993, "neg": -1.5e-7,
}
JSON_VALUES = [JSON_NESTED, [1, "two", 3.0, None, False], "just a string", 42, {}, []]

EVERYTHING = [
    {  # ordinary values
        "big": 1234567890123, "binary": b"plain bytes", "flag": True, "maybe": True, "char": "ordinary",
        "char_null": "", "day": dt.date(2024, 2, 29), "moment": dt.datetime(2024, 3, 1, 9, 30, 15, 123456, UTC),
        "money": Decimal("1234.50"), "ratio": Decimal("0.3333"), "wide": Decimal("12345.6789012345"),
        "whole": Decimal("42"), "duration": dt.timedelta(hours=1, minutes=2, seconds=3, microseconds=4),
        "email": "someone@example.test", "upload": "uploads/report.pdf", "picture": "pictures/cat.png",
        "path": "/etc/hosts", "real": 0.1, "ip": "192.0.2.1", "ipv4": "198.51.100.7", "integer": 7,
        "data": JSON_NESTED, "positive_big": 1, "positive": 1, "positive_small": 1, "slug": "ordinary-slug",
        "small": 1, "text": TEXT, "clock": dt.time(12, 34, 56, 1), "url": "https://example.test/path?q=1#frag",
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"), "status": "active",
    },
    {  # the largest values of each type
        "big": 9223372036854775807, "binary": bytes(range(256)), "flag": False, "maybe": False,
        "char": "x" * 100, "char_null": "ten chars!", "day": dt.date(9999, 12, 31),
        "moment": dt.datetime(9999, 12, 31, 23, 59, 59, 999999, UTC), "money": Decimal("9999999999.99"),
        "ratio": Decimal("9.9999"), "wide": Decimal("99999.9999999999"), "whole": Decimal("999999999999999"),
        "duration": dt.timedelta(days=100000, microseconds=999999), "email": "a" * 64 + "@example.test",
        "upload": "uploads/a b/ünï (1).txt", "picture": "", "path": "/etc/passwd", "real": 1e308,
        "ip": "2001:db8:85a3::8a2e:370:7334", "ipv4": "255.255.255.255", "integer": 2147483647,
        "data": [1, "two", 3.0, None, False], "positive_big": 9223372036854775807, "positive": 2147483647,
        "positive_small": 32767, "slug": "s" * 50, "small": 32767, "text": "", "clock": dt.time(23, 59, 59, 999999),
        "url": "https://example.test/" + "p" * 170, "uuid": uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
    },
    {  # the smallest values, negatives, and zero in its forms
        "big": -9223372036854775808, "binary": b"", "flag": False, "maybe": None, "char": "",
        "char_null": None, "day": dt.date(1, 1, 1), "moment": dt.datetime(1, 1, 1, 0, 0, 0, 0, UTC),
        "money": Decimal("-9999999999.99"), "ratio": Decimal("-0.0001"), "wide": Decimal("-0.0000000001"),
        "whole": Decimal("0"), "duration": dt.timedelta(days=-3, hours=4), "email": "", "upload": "",
        "path": "", "real": -0.0, "ip": "::", "ipv4": "0.0.0.0", "integer": -2147483648, "data": "just a string",
        "positive_big": 0, "positive": 0, "positive_small": 0, "slug": "", "small": -32768, "text": "\\",
        "clock": dt.time(0, 0), "url": "", "uuid": uuid.UUID(int=0), "status": "",
    },
    {  # every nullable column NULL; the rest their defaults
        "char": "all null",
    },
    {  # values that tend to change on the way: local time zones, mapped IPv6, tiny and long floats
        "big": 0, "binary": b"\x00\x01\x00\xff\\x00", "flag": True, "char": "conversions", "day": dt.date(1970, 1, 1),
        "moment": dt.datetime(2024, 10, 27, 1, 30, 0, 500000, KOLKATA), "money": Decimal("0.01"),
        "ratio": Decimal("1"), "wide": Decimal("0.1"), "duration": -dt.timedelta(microseconds=1),
        "email": "Mixed.Case+tag@Example.TEST", "real": 5e-324, "ip": "::ffff:192.0.2.128", "ipv4": "10.0.0.1",
        "integer": 0, "data": 42, "text": "line one\nline two\n", "clock": dt.time(0, 0, 0, 1),
        "url": "http://[2001:db8::1]:8080/", "uuid": uuid.UUID("00000000-0000-4000-8000-000000000001"),
        "positive_small": 300, "small": -1,
    },
    {
        "char": "more floats", "real": 3.141592653589793, "data": {}, "duration": dt.timedelta(0),
        "moment": dt.datetime(1969, 12, 31, 23, 59, 59, 999999, UTC), "ip": "fe80::1",
    },
    {"char": "even more floats", "real": 1.7976931348623157e308, "data": [], "duration": dt.timedelta(seconds=-1)},
    {"char": "negative float", "real": -2.5e-300, "data": JSON_NESTED["aa"]},
]


class Command(BaseCommand):
    help = "Fill an empty, migrated allfields database with fixed edge values."

    def handle(self, *args, **options):
        if Everything.objects.exists():
            raise SystemExit("fill_allfields: the database already has rows; it fills an empty one")
        with transaction.atomic():
            fill()
        self.stdout.write(f"allfields_everything={Everything.objects.count()}")


def fill() -> None:
    parents = [Parent.objects.create(name=name) for name in ("Ada", "Grace", "Linus", "Ken", "Barbara")]
    # Ada's mentor is inserted after her; then the last two rows are deleted: a gap, and a sequence past max(id).
    parents[0].mentor = parents[2]
    parents[0].save()
    parents[1].mentor = parents[0]
    parents[1].save()
    Parent.objects.filter(pk__in=(parents[3].pk, parents[4].pk)).delete()

    tags = [Tag.objects.create(label=label) for label in ("red", "grün", "日本", "a-b_c")]
    tags.append(Tag.objects.create(id=30000, label="far-off"))  # near SmallAutoField's top (32767)

    rows = []
    for n, values in enumerate(EVERYTHING):
        row = Everything.objects.create(parent=parents[n % 3] if n % 4 else None, **values)
        row.tags.set(tags[: n % 6])
        rows.append(row)
    rows[5].delete()  # a gap in BigAutoField's pks
    rows.append(Everything.objects.create(id=2**40, char="far-off pk", data={"pk": "2**40"}))

    Detail.objects.create(everything=rows[0], note="one-to-one as the primary key")
    Detail.objects.create(everything=rows[2], note=TEXT)
    Token.objects.create(id=uuid.UUID("a0000000-0000-4000-8000-00000000000a"), owner=parents[0],
                         everything=rows[0])
    Token.objects.create(id=uuid.UUID("b0000000-0000-4000-8000-00000000000b"), owner=None, everything=rows[4])
    Token.objects.create(id=uuid.UUID("c0000000-0000-4000-8000-00000000000c"), owner=parents[1], everything=None)
    for width, height, name in ((3, 4, "Small"), (1000, 1000, "BIG"), (0, 7, "ZeRo"), (-2, 5, "Négatif")):
        Computed.objects.create(width=width, height=height, name=name)
