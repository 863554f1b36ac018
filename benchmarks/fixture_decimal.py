"""The benchmark's `decimal` shape: money and rates in DECIMAL(p,s) columns, 40-byte blobs, two REAL columns a table.

`build(path, rows, seed)` writes three tables whose row counts sum to exactly `rows` (10% `accounts`, 60%
`transactions`, 30% `prices`; 600,000 rows by default). Every table has three DECIMAL(p,s) columns, one 40-byte
BLOB column (random bytes: 0x00 and 0x5c turn up) and two REAL columns; `accounts` and `prices` have a unique
text code, `transactions` a foreign key to `accounts` with an index.

The decimals are written as an application writes them: bound as text with exactly s places ('12.50', '-0.0400',
'100.00'), as Django's DecimalField and most ORMs do on SQLite. SQLite's NUMERIC affinity then stores each as the
REAL 12.5 or the INTEGER 100 (https://sqlite.org/datatype3.html#type_affinity); a text '12.50' cannot stay text
in a DECIMAL column of a sound file: SQLite's own `PRAGMA quick_check` reports "TEXT value in t.c" for one, and
`appmod migrate` runs quick_check before it reads anything. Every value has at most 14 significant digits, so the
double holds it exactly (repr gives back at most s places) and it fits numeric(p,s); the REAL values stay within
float4's range, so pgloader (which makes REAL `real`) loads every row.

Deterministic: the same (rows, seed) gives the same file. Called by shapes.py; standard library and
fixture_common.py only.
"""

from __future__ import annotations

import random
from pathlib import Path

from benchmarks import fixture_common

DEFAULT_ROWS = 600_000
TABLES = ("accounts", "transactions", "prices")
WEIGHTS = {"accounts": 10, "transactions": 60, "prices": 30}

SCHEMA = """
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    balance DECIMAL(14,2) NOT NULL,
    credit_limit DECIMAL(12,2),
    interest_rate DECIMAL(7,4),
    api_key BLOB NOT NULL,
    latitude REAL,
    longitude REAL
);
CREATE TABLE transactions (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    amount DECIMAL(12,2) NOT NULL,
    fee DECIMAL(10,4),
    tax DECIMAL(10,2),
    signature BLOB,
    fx_rate REAL,
    weight REAL
);
CREATE TABLE prices (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    discount DECIMAL(5,2),
    vat_rate DECIMAL(6,3),
    digest BLOB NOT NULL,
    cost REAL,
    margin REAL
);
"""

INDEXES = """
CREATE UNIQUE INDEX accounts_number_key ON accounts(number);
CREATE INDEX transactions_account_id_idx ON transactions(account_id);
CREATE UNIQUE INDEX prices_sku_key ON prices(sku);
"""

_VAT = ("0.000", "5.000", "7.700", "10.000", "19.000", "20.000", "21.000", "8.125")


def build(path: str | Path, rows: int = DEFAULT_ROWS, seed: int | str = fixture_common.DEFAULT_SEED, *,
          overwrite: bool = False) -> dict[str, int]:
    """Write the database to `path` and return the row count of each table."""
    counts = fixture_common.shares(rows, WEIGHTS, at_least_one=("accounts",))
    rng = random.Random(f"decimal-{seed}")
    with fixture_common.new_database(path, SCHEMA, overwrite=overwrite) as conn:
        fixture_common.insert(conn, "accounts", (_account(rng, i) for i in range(1, counts["accounts"] + 1)), 8)
        fixture_common.insert(conn, "transactions", (_transaction(rng, i, counts["accounts"])
                                                     for i in range(1, counts["transactions"] + 1)), 8)
        fixture_common.insert(conn, "prices", (_price(rng, i) for i in range(1, counts["prices"] + 1)), 8)
        conn.executescript(INDEXES)
    return counts


def decimal_text(rng: random.Random, integer_digits: int, scale: int, *, negative: float = 0.0) -> str:
    """A decimal as an ORM binds it: up to `integer_digits` digits before the point (mostly few), exactly `scale`
    after it; negative with probability `negative`."""
    r = rng.random()
    digits = 1 if r < 0.2 else rng.randint(1, min(4, integer_digits)) if r < 0.9 else rng.randint(1, integer_digits)
    units = rng.randrange(10 ** digits)
    sign = "-" if rng.random() < negative else ""
    if scale == 0:
        return f"{sign}{units}"
    return f"{sign}{units}.{rng.randrange(10 ** scale):0{scale}d}"


def _maybe(rng: random.Random, p_null: float, value):
    return None if rng.random() < p_null else value


def _account(rng: random.Random, i: int) -> tuple:
    return (i, f"ACC-{i:09d}", decimal_text(rng, 12, 2, negative=0.1),
            _maybe(rng, 0.3, decimal_text(rng, 10, 2)), _maybe(rng, 0.2, decimal_text(rng, 2, 4)),
            rng.randbytes(40), _maybe(rng, 0.1, rng.uniform(-90.0, 90.0)), _maybe(rng, 0.1, rng.uniform(-180.0, 180.0)))


def _transaction(rng: random.Random, i: int, accounts: int) -> tuple:
    return (i, rng.randint(1, accounts), decimal_text(rng, 10, 2, negative=0.3),
            _maybe(rng, 0.4, decimal_text(rng, 4, 4)), _maybe(rng, 0.2, decimal_text(rng, 6, 2)),
            _maybe(rng, 0.05, rng.randbytes(40)), _maybe(rng, 0.5, rng.lognormvariate(0.0, 0.5)),
            _maybe(rng, 0.1, round(rng.uniform(0.0, 500.0), rng.choice((1, 2, 3)))))


def _price(rng: random.Random, i: int) -> tuple:
    return (i, f"SKU-{i:08d}-{rng.choice('ABCDEFGH')}", decimal_text(rng, 8, 2),
            _maybe(rng, 0.6, decimal_text(rng, 2, 2)), _maybe(rng, 0.1, rng.choice(_VAT)),
            rng.randbytes(40), _maybe(rng, 0.05, rng.gauss(100.0, 40.0)), _maybe(rng, 0.05, rng.uniform(-0.5, 0.9)))
