"""A deterministic SQLite database that looks like a legacy web application's, for the migration benchmark and tests.

`build(path, rows, seed)` writes three tables whose row counts sum to exactly `rows` (10% `customers`, 40% `orders`,
the rest `events`) with the values a migration gets wrong first: text with tabs, newlines, carriage returns,
backslashes, quotes, a literal `\\N` and `\\.`, non-ASCII and emoji; arbitrary doubles (full 17-digit precision,
subnormal and near-overflow ones); 64-bit integers; blobs containing 0x00 and 0x5c; booleans stored as 0/1;
datetimes and dates stored as text; NULLs next to empty strings; a foreign key and a unique index.

By default every value is one that PostgreSQL can hold in the types pgloader picks by default (real, bigint), so
that pgloader loads every row and its speed is a fair anchor; `extremes=True` adds the values at the edges of the
types (doubles near 1.8e308 and subnormal ones, integers near +/-2**63), which pgloader 3.6 rejects whole batches over
(float4 overflow; integers beyond SBCL's fixnum), for tests of the engine's fidelity.

The same (rows, seed, extremes) gives the same rows on every run (one `random.Random(seed)`, consumed in a fixed
order), so `digest()` of two builds is equal. This is the benchmark's `mixed` shape (shapes.py lists it with the
others); it is called by shapes.py and may be called by tests. Importing it has no side effects; it needs only the
standard library and fixture_common.py.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from benchmarks import fixture_common
from benchmarks.fixture_common import digest  # noqa: F401 - part of this module's interface (tests)

DEFAULT_ROWS = 1_000_000
DEFAULT_SEED = fixture_common.DEFAULT_SEED
TABLES = ("customers", "orders", "events")

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT,
    notes TEXT,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    created_at DATETIME NOT NULL,
    balance REAL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    amount REAL NOT NULL,
    quantity INTEGER,
    placed_at TIMESTAMP,
    status TEXT NOT NULL,
    paid BOOLEAN
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    order_id INTEGER REFERENCES orders(id),
    payload BLOB,
    score REAL,
    happened_on DATE,
    note TEXT
);
"""

# Created after the rows are in (faster than maintaining them row by row).
INDEXES = """
CREATE UNIQUE INDEX customers_email_key ON customers(email);
CREATE INDEX orders_customer_id_idx ON orders(customer_id);
"""

_EPOCH = datetime(2000, 1, 1)
_SPAN_SECONDS = 30 * 365 * 24 * 3600
_FIRST = ("José", "Zoë", "Søren", "Łukasz", "François", "Ana", "Björk", "Владимир", "Ἀθηνᾶ", "太郎", "محمد",
          "Ōsaka", "Chloé", "Nuñez", "Ann \"Nan\"", "D'Arcy", "plain")
_LAST = ("Müller", "O'Brien", "山田", "日本", "Çelik", "Dvořák", "Smith", "van der Berg", "Ñandú", "Kowalska",
         "Lefèvre", "Ólafsson", "🙂", "Wu 🚀", "Back\\Slash")
_NOTES = ("line one\nline two", "tab\tseparated\tvalues", "back\\slash", "C:\\path\\to\\file", "\\N",
          "quote ' and \"double\"", "carriage\r\nreturn", "comma, semicolon; colon:", "ünïcödé ✓",
          "日本語のテキスト", "emoji 🎉🎉", "", "trailing backslash \\", "\\.", "pipe | percent % under_score",
          "\\x00 is not a NUL", "    leading and trailing spaces   ", "NULL", "\\t\\n as text")
_SEPARATORS = (" ", "\n", "\t", "", "\r\n", " | ")
_STATUSES = ("new", "paid", "shipped", "cancelled", "refunded", "en attente", "已发货", "on hold\t(manual)")
_DOMAINS = ("example.com", "exämple.org", "mail.example.net", "例え.jp")
_SPECIAL_REALS = (0.1, 1 / 3, 2 / 3, 42.0, -0.5, 9007199254740992.0, 1e-7, 123456789.12345679, 0.0, 1e-30,
                  3.0e38, 16777217.0)
_EXTREME_REALS = (5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1e300, -1e-300)


def split(rows: int) -> dict[str, int]:
    """The row count of each table: 10% customers, 40% orders, the rest events; the sum is exactly `rows`.

    There is at least one customer as soon as there is a row, since every order needs one.
    """
    if rows < 0:
        raise ValueError("rows must be >= 0")
    customers = max(rows // 10, 1 if rows else 0)
    orders = min(rows * 4 // 10, rows - customers)
    return {"customers": customers, "orders": orders, "events": rows - customers - orders}


def build(path: str | Path, rows: int = DEFAULT_ROWS, seed: int | str = DEFAULT_SEED, *,
          extremes: bool = False, overwrite: bool = False) -> dict[str, int]:
    """Write the database to `path` and return the row count of each table."""
    counts = split(rows)
    rng = random.Random(seed)
    with fixture_common.new_database(path, SCHEMA, overwrite=overwrite) as conn:
        fixture_common.insert(conn, "customers", (_customer(rng, i, extremes)
                                                  for i in range(1, counts["customers"] + 1)), 7)
        fixture_common.insert(conn, "orders", (_order(rng, i, counts["customers"], extremes)
                                               for i in range(1, counts["orders"] + 1)), 7)
        fixture_common.insert(conn, "events", (_event(rng, i, counts["orders"], extremes)
                                               for i in range(1, counts["events"] + 1)), 6)
        conn.executescript(INDEXES)  # commits the open transaction first
    return counts


def _customer(rng: random.Random, i: int, extremes: bool) -> tuple:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    email = f"{first.lower().replace(' ', '.')}.{i}@{rng.choice(_DOMAINS)}"
    if rng.random() < 0.15:
        notes = None
    else:
        notes = rng.choice(_SEPARATORS).join(rng.choice(_NOTES) for _ in range(rng.randint(1, 3)))
    return (i, email, f"{first} {last}", notes, 1 if rng.random() < 0.8 else 0,
            _datetime(rng, micro=False), _real(rng, extremes))


def _order(rng: random.Random, i: int, customers: int, extremes: bool) -> tuple:
    r = rng.random()
    if r < 0.05:
        quantity = None
    elif r < 0.06:
        bits = 63 if extremes else 52
        quantity = rng.randint(-(2**bits), 2**bits - 1)
    else:
        quantity = rng.randint(1, 100)
    paid = None if rng.random() < 0.03 else rng.randint(0, 1)
    placed_at = None if rng.random() < 0.02 else _datetime(rng, micro=rng.random() < 0.3)
    return (i, rng.randint(1, customers), round(rng.uniform(0.5, 5000.0), 2), quantity, placed_at,
            rng.choice(_STATUSES), paid)


def _event(rng: random.Random, i: int, orders: int, extremes: bool) -> tuple:
    order_id = rng.randint(1, orders) if orders and rng.random() < 0.9 else None
    n = rng.randint(16, 256)
    payload = bytearray(rng.randbytes(n))
    payload[rng.randrange(n)] = 0x00
    payload[rng.randrange(n)] = 0x5C
    score = (_real(rng, extremes) if rng.random() < 0.1 else rng.gauss(0.0, 1.0)) if rng.random() < 0.9 else None
    happened_on = (date(2000, 1, 1) + timedelta(days=rng.randrange(11_000))).isoformat()
    note = rng.choice(_NOTES) if rng.random() < 0.5 else None
    return (i, order_id, bytes(payload), score, happened_on, note)


def _datetime(rng: random.Random, micro: bool) -> str:
    """'YYYY-MM-DD HH:MM:SS', with '.ffffff' when micro (and the microseconds are not 0)."""
    micros = rng.randrange(1_000_000) if micro else 0
    return (_EPOCH + timedelta(seconds=rng.randrange(_SPAN_SECONDS), microseconds=micros)).isoformat(" ")


def _real(rng: random.Random, extremes: bool) -> float | None:
    """Mostly full-precision doubles, some 2-decimal ones, some spread over many magnitudes, some classics."""
    r = rng.random()
    if r < 0.05:
        return None
    if r < 0.60:
        return rng.uniform(-1e5, 1e5)
    if r < 0.80:
        return round(rng.uniform(-1e4, 1e4), 2)
    if r < 0.95:
        exponent = rng.randint(-300, 300) if extremes else rng.randint(-30, 30)
        return rng.choice((1, -1)) * (0.5 + rng.random() / 2) * 10.0**exponent
    return rng.choice(_SPECIAL_REALS + _EXTREME_REALS if extremes else _SPECIAL_REALS)
