"""The benchmark's `many_small` shape: a Django Oscar shop's database, 94 tables and about 16,000 rows in all.

`build(path, rows, seed)` writes the tables of fixture_oscar_tables.py (Django's auth, admin, sessions,
sites and flatpages, then Oscar's address, analytics, basket, catalogue, communication, customer, offer,
order, partner, payment, reviews, shipping, voucher and wishlists apps) with row counts proportional to the
shop's (16,000 by default; some tables are empty, as in a fresh shop) that sum to exactly `rows`. The
schema is what Django's migrations write on SQLite:

- `"id" integer NOT NULL PRIMARY KEY AUTOINCREMENT` (so `sqlite_sequence` is used), or a text primary key
  (`address_country.iso_3166_1_a2 varchar(2)`, `django_session.session_key`, `thumbnail_kvstore.key`);
- `varchar(n)`, `text`, `bool` (0/1), `datetime` (`YYYY-MM-DD HH:MM:SS[.ffffff]` text), `date`, `decimal` (bound
  as text with 2 places, kept by SQLite as REAL or INTEGER), `real`, `char(32)` (UUIDs), `integer unsigned` and
  `smallint unsigned` with `CHECK (... >= 0)`, JSON text with `CHECK (JSON_VALID(...) OR ... IS NULL)`;
  explicit `NULL` on nullable columns; column names such as `order`, `key`, `count`, `usage`, `type`;
- foreign keys `REFERENCES "t" ("id") DEFERRABLE INITIALLY DEFERRED`, each with an index named
  `<table>_<column>_<8 hex>`; inline `UNIQUE` columns; `unique_together` as `CREATE UNIQUE INDEX
  "<table>_<a>_<b>_<8 hex>_uniq"`, several of them longer than PostgreSQL's 63 bytes.

Oscar's own file can hold index names that are equal in their first 63 bytes (PostgreSQL truncates, and
then refuses the second); this shape leaves out an index whose name would collide, also under pgloader's
`idx_<oid>_` prefix, so that every contestant can create every index. Every value fits the types pgloader picks
(`integer unsigned` becomes `integer`, `smallint` stays `smallint`, `real` stays `real`).

Deterministic: the same (rows, seed) gives the same file. Called by shapes.py; standard library,
fixture_common.py and fixture_oscar_tables.py only.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks import fixture_common
from benchmarks.fixture_oscar_tables import SPECS, Spec

DEFAULT_ROWS = 16_000
PG_IDENTIFIER = 63
PGLOADER_PREFIX = len("idx_16384_")


_TOKEN = re.compile(r"(?P<field>\w+):(?:>(?P<parent>\w+)|(?P<type>v\d+|t|b|dt|d|dec|u|us|i|s|r|j|email|uuid))"
                    r"(?P<unique>!)?(?P<null>\?)?$")
_SIMPLE = {"t": "text", "b": "bool", "dt": "datetime", "d": "date", "dec": "decimal", "i": "integer",
           "s": "smallint", "r": "real", "email": "varchar(254)", "u": "integer unsigned",
           "us": "smallint unsigned", "j": "text", "uuid": "char(32)"}
_WORDS = ("shop", "Oscar", "book", "café", "Straße", "müsli", "naïve", "Ærø", "日本", "Привет", "🙂", "gift",
          "card", "order", "line", "basket", "offer", "range", "shipping", "voucher", "partner", "stock", "review",
          "the", "and", "with", "O'Brien", 'say "hi"', "50%", "a_b", "tab\there", "new\nline", "back\\slash")
_EPOCH = datetime(2012, 1, 1)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # a key of _SIMPLE, "v" (varchar), or "fk"
    size: int = 0  # varchar's length
    parent: str | None = None
    unique: bool = False
    null: bool = False


def columns(spec: Spec) -> list[Column]:
    out = [] if spec.pk else [Column("id", "pk")]
    for token in spec.columns.split():
        m = _TOKEN.match(token)
        if m is None:
            raise ValueError(f"{spec.name}: cannot read column {token!r}")
        kind = "fk" if m["parent"] else "v" if m["type"].startswith("v") else m["type"]
        size = int(m["type"][1:]) if kind == "v" else 0
        name = m["field"] + ("_id" if kind == "fk" else "")
        out.append(Column(name, kind, size, m["parent"], bool(m["unique"]), bool(m["null"])))
    return out


def _declare(spec: Spec, column: Column, pk_types: dict[str, tuple[str, str]]) -> str:
    q = f'"{column.name}"'
    if column.kind == "pk":
        return f"{q} integer NOT NULL PRIMARY KEY AUTOINCREMENT"
    if column.kind == "fk":
        pk_name, pk_type = pk_types[column.parent]
        declared = f'{pk_type} REFERENCES "{column.parent}" ("{pk_name}") DEFERRABLE INITIALLY DEFERRED'
    else:
        declared = f"varchar({column.size})" if column.kind == "v" else _SIMPLE[column.kind]
    if column.name == spec.pk:
        return f"{q} {declared} NOT NULL PRIMARY KEY"
    line = f"{q} {declared.split(' REFERENCES')[0]} {'NULL' if column.null else 'NOT NULL'}"
    line += " UNIQUE" if column.unique else ""
    if column.kind in ("u", "us"):
        line += f" CHECK ({q} >= 0)"
    elif column.kind == "j":
        line += f" CHECK ((JSON_VALID({q}) OR {q} IS NULL))"
    return line + (declared[declared.index(" REFERENCES"):] if column.kind == "fk" else "")


def _digest(*names: str) -> str:
    return hashlib.md5("".join(names).encode()).hexdigest()[:8]


def schema() -> tuple[str, list[str]]:
    """(CREATE TABLE statements, CREATE INDEX statements): the second are run once the rows are in."""
    pk_types = {s.name: (s.pk, f"varchar({next(c.size for c in columns(s) if c.name == s.pk)})") if s.pk
                else ("id", "integer") for s in SPECS}
    tables, indexes, seen = [], [], set()
    for spec in SPECS:
        cols = columns(spec)
        pair = [c for c in cols if spec.unique and c.name in spec.unique]
        if spec.unique and not (len(pair) == 2 and (all(c.kind == "fk" for c in pair) or any(c.unique for c in pair))):
            raise ValueError(f"{spec.name}: unique_together needs two foreign keys or a unique column")
        tables.append(f'CREATE TABLE "{spec.name}" ({", ".join(_declare(spec, c, pk_types) for c in cols)});')
        wanted = []
        if spec.unique:
            wanted.append((f"{spec.name}_{'_'.join(spec.unique)}_{_digest(spec.name, *spec.unique)}_uniq", True,
                           spec.unique))
        wanted += [(f"{spec.name}_{c.name}_{_digest(spec.name, c.name)}", False, (c.name,)) for c in cols
                   if c.kind == "fk" and not c.unique and c.name != spec.pk]
        wanted += [(f"{spec.name}_{c}_{_digest(spec.name, c)}", False, (c,)) for c in spec.index]
        in_table = set()
        for name, unique, on in wanted:
            if name[:PG_IDENTIFIER] in seen or name[:PG_IDENTIFIER - PGLOADER_PREFIX] in in_table:
                continue  # would collide once truncated (see the module's docstring)
            seen.add(name[:PG_IDENTIFIER])
            in_table.add(name[:PG_IDENTIFIER - PGLOADER_PREFIX])
            indexes.append(f'CREATE {"UNIQUE " if unique else ""}INDEX "{name}" ON "{spec.name}" '
                           f'({", ".join(f"{chr(34)}{c}{chr(34)}" for c in on)});')
    return "\n".join(tables), indexes


def counts_for(rows: int) -> dict[str, int]:
    """Each table's row count for `rows` in all: proportional to the defaults, parents of a NOT NULL foreign key
    non-empty where it can be, and no table above what its keys allow; what a table cannot hold (or all of it,
    when a parent it needs stays empty at a tiny size) goes to thumbnail_kvstore, which needs nothing."""
    needed = {c.parent for s in SPECS if s.rows for c in columns(s) if c.kind == "fk" and not c.null}
    counts = fixture_common.shares(rows, {s.name: s.rows for s in SPECS}, at_least_one=sorted(needed))
    changed = True
    while changed:  # a cap can empty a parent, which empties its children: until nothing moves
        changed = False
        for spec in SPECS:
            limit = _limit(spec, counts)
            if limit is not None and counts[spec.name] > limit:
                counts["thumbnail_kvstore"] += counts[spec.name] - limit
                counts[spec.name] = limit
                changed = True
    return counts


def _limit(spec: Spec, counts: dict[str, int]) -> int | None:
    """The most rows the table's keys allow: 0 when a NOT NULL foreign key's parent is empty."""
    by_name = {c.name: c for c in columns(spec)}
    limits = [0 for c in by_name.values() if c.kind == "fk" and not c.null and not counts[c.parent]]
    if spec.pk and by_name[spec.pk].size == 2:
        limits.append(26 * 26)
    limits += [counts[c.parent] for c in by_name.values() if c.kind == "fk" and c.unique]
    if spec.unique and all(by_name[c].kind == "fk" for c in spec.unique):
        a, b = (by_name[c].parent for c in spec.unique)
        limits.append(counts[a] * counts[b])
    return min(limits) if limits else None


def build(path: str | Path, rows: int = DEFAULT_ROWS, seed: int | str = fixture_common.DEFAULT_SEED, *,
          overwrite: bool = False) -> dict[str, int]:
    """Write the database to `path` and return the row count of each table."""
    rng = random.Random(f"many_small-{seed}")
    counts = counts_for(rows)
    tables, indexes = schema()
    keys: dict[str, list] = {}  # a text primary key's values, for the foreign keys to it
    with fixture_common.new_database(path, tables, overwrite=overwrite) as conn:
        for spec in sorted(SPECS, key=lambda s: s.pk is None):  # text keys first
            cols = columns(spec)
            n = counts[spec.name]
            values = {c.name: _values(rng, spec, c, n, counts, keys) for c in cols}
            pair = [c for c in cols if spec.unique and c.name in spec.unique]
            if len(pair) == 2 and pair[0].kind == pair[1].kind == "fk":  # distinct pairs of parent ids
                a, b = pair
                nb = counts[b.parent]
                drawn = rng.sample(range(counts[a.parent] * nb), n)
                values[a.name], values[b.name] = ([_key(keys, a.parent, p // nb) for p in drawn],
                                                  [_key(keys, b.parent, p % nb) for p in drawn])
            if spec.pk:
                keys[spec.name] = values[spec.pk]
            fixture_common.insert(conn, spec.name, zip(*(values[c.name] for c in cols), strict=True), len(cols))
        conn.executescript("\n".join(indexes))
    return counts


def _values(rng: random.Random, spec: Spec, c: Column, n: int, counts: dict[str, int], keys: dict) -> list:
    if c.kind == "pk":
        return list(range(1, n + 1))
    if c.name == spec.pk:  # a text primary key: country codes, session keys, thumbnail store keys
        if c.size == 2:
            return rng.sample([a + b for a in string.ascii_uppercase for b in string.ascii_uppercase], n)
        if c.size < 60:
            return [f"{rng.getrandbits(128):032x}{i}"[:c.size] for i in range(1, n + 1)]
        return [f"sorl-thumbnail||image||{i}.{rng.getrandbits(64):016x}" for i in range(1, n + 1)]
    if c.kind == "fk" and c.unique:
        return rng.sample(range(1, counts[c.parent] + 1), n)
    return [None if c.null and rng.random() < 0.25 else _value(rng, c, i, counts, keys) for i in range(1, n + 1)]


def _value(rng: random.Random, c: Column, i: int, counts: dict[str, int], keys: dict):
    kind = c.kind
    if kind == "fk":
        parent = keys.get(c.parent)
        if parent is not None:
            return rng.choice(parent) if parent else None
        return rng.randint(1, counts[c.parent]) if counts[c.parent] else None
    if kind == "v":
        if c.unique:
            return _base36(i).rjust(c.size, "0") if c.size < 12 else f"{rng.choice(_WORDS)[:c.size - 8]}-{i}"
        return " ".join(rng.choices(_WORDS, k=rng.randint(1, 4)))[:c.size]
    if kind == "t":
        return " ".join(rng.choices(_WORDS, k=rng.randint(0, 60)))
    if kind == "email":
        return f"user.{i}@example.com" if rng.random() < 0.9 else f"zoë.{i}@exämple.org"
    if kind == "b":
        return int(rng.random() < 0.7)
    if kind == "uuid":
        return f"{rng.getrandbits(128):032x}"
    if kind in ("dt", "d"):
        moment = _EPOCH + timedelta(seconds=rng.randrange(12 * 365 * 86400),
                                    microseconds=rng.randrange(1_000_000) if rng.random() < 0.9 else 0)
        return moment.isoformat(" ") if kind == "dt" else moment.date().isoformat()
    if kind == "dec":
        return f"{rng.randrange(0, 10 ** rng.randint(1, 7)) / 100:.2f}"
    if kind == "u":
        return rng.randint(0, 10_000)
    if kind == "us":
        return rng.randint(0, 32_767)
    if kind == "i":
        return rng.randint(-1000, 100_000)
    if kind == "s":
        return rng.randint(-5, 5)
    if kind == "r":
        return rng.uniform(0.0, 5.0)
    if kind == "j":
        return json.dumps({"line": i, "value": rng.choice(_WORDS)}, ensure_ascii=False)
    raise ValueError(kind)


def _key(keys: dict[str, list], parent: str, index: int):
    """The primary key of the parent's row number `index` (from 0): a text key drawn before, or index + 1."""
    return keys[parent][index] if parent in keys else index + 1


def _base36(i: int) -> str:
    digits = ""
    while True:
        i, r = divmod(i, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if not i:
            return digits
