"""The input shapes the migration benchmark can build, by name: what each is, its default size, its own targets.

| shape | module | default rows | what it stresses |
| --- | --- | --- | --- |
| `mixed` | sqlite_fixture.py | 1,000,000 | a web app's 3 tables: escapes, unicode, doubles, blobs, dates, booleans |
| `decimal` | fixture_decimal.py | 600,000 | DECIMAL(p,s) money, 40-byte blobs, REAL: the fields Python renders |
| `many_small` | fixture_many_small.py | 16,000 | a Django Oscar shop's 94 tables: per-table fixed costs, DDL, keys |
| `wide_text` | fixture_wide_text.py | 20,000 | long unicode text (about 2.9 KB a row): bytes, escaping, hashing |

`build(name, path, rows, seed, extremes)` writes the shape's SQLite file; `--extremes` applies to `mixed` only.
Called by migration.py; every module it lists needs only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from benchmarks import fixture_decimal, fixture_many_small, fixture_wide_text, sqlite_fixture


@dataclass(frozen=True)
class Shape:
    name: str
    module: ModuleType
    about: str
    engine_seconds_max: float | None = None  # a target of its own: the whole command under this many seconds

    @property
    def default_rows(self) -> int:
        return self.module.DEFAULT_ROWS


SHAPES = {s.name: s for s in (
    Shape("mixed", sqlite_fixture, "customers, orders, events: escapes, unicode, doubles, blobs, dates, booleans"),
    Shape("decimal", fixture_decimal, "accounts, transactions, prices: DECIMAL(p,s), 40-byte blobs, two REALs each"),
    Shape("many_small", fixture_many_small, "a Django Oscar shop: 94 tables, Django's schema, about 16,000 rows",
          engine_seconds_max=2.0),
    Shape("wide_text", fixture_wide_text, "documents, comments: several long unicode text columns a row"),
)}


def build(name: str, path: Path, rows: int, seed: int, extremes: bool = False) -> dict[str, int]:
    """Write shape `name` with `rows` rows in all to `path` (replacing a file there); its row count per table."""
    module = SHAPES[name].module
    if module is sqlite_fixture:
        return sqlite_fixture.build(path, rows, seed, extremes=extremes, overwrite=True)
    return module.build(path, rows, seed, overwrite=True)
