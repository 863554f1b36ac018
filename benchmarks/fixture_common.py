"""What the benchmark's SQLite shapes share: a new database file, batched inserts, row shares, the digest.

Called by the shape modules (sqlite_fixture.py for `mixed`, fixture_decimal.py, fixture_many_small.py,
fixture_wide_text.py) and, through them, by shapes.py; tests may call `digest` to see that two builds are
equal. Standard library only; importing it has no side effects.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

BATCH = 50_000
DEFAULT_SEED = 20240603


@contextlib.contextmanager
def new_database(path: str | Path, schema: str, *, overwrite: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection to a new file at `path` with `schema` created and a transaction open; committed and closed
    on exit. Journal and sync off: the file is rebuilt from its seed if anything goes wrong."""
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)")
        path.unlink()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA page_size=8192")
        conn.executescript(schema)
        conn.execute("BEGIN")
        yield conn
        if conn.in_transaction:
            conn.execute("COMMIT")
    finally:
        conn.close()


def insert(conn: sqlite3.Connection, table: str, rows: Iterable[tuple], width: int) -> None:
    """INSERT every row (tuples of `width` values, in column order) in batches of BATCH."""
    sql = f'INSERT INTO "{table}" VALUES ({", ".join("?" * width)})'
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            conn.executemany(sql, batch)
            batch.clear()
    if batch:
        conn.executemany(sql, batch)


def shares(rows: int, weights: dict[str, float], at_least_one: Iterable[str] = ()) -> dict[str, int]:
    """Row counts proportional to `weights` that sum to exactly `rows` (the rounding remainder goes to the
    heaviest table); the tables in `at_least_one` (parents that a NOT NULL foreign key needs) get a row as soon
    as there are rows enough, each taken from the table that has the most."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    total = sum(weights.values())
    counts = {name: int(rows * w / total) for name, w in weights.items()}
    heaviest = max(weights, key=lambda n: (weights[n], n))
    counts[heaviest] += rows - sum(counts.values())
    needed = list(dict.fromkeys(at_least_one))
    for name in needed:
        if counts[name]:
            continue
        donor = max(counts, key=lambda n: (counts[n] - (n in needed), n))
        if counts[donor] - (donor in needed) > 0:
            counts[name], counts[donor] = 1, counts[donor] - 1
    return counts


def tables(conn: sqlite3.Connection) -> list[str]:
    """The database's own tables (not sqlite_sequence and the like), in the order they were created."""
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid")]


def digest(path: str | Path) -> str:
    """sha256 over the schema and every row of every table in rowid order: equal digests, equal databases."""
    h = hashlib.sha256()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"):
            h.update(sql.encode())
        for table in tables(conn):
            rowid = "rowid" if _has_rowid(conn, table) else "1"
            cursor = conn.execute(f'SELECT * FROM "{table}" ORDER BY {rowid}')
            while batch := cursor.fetchmany(10_000):
                for row in batch:
                    h.update(repr(row).encode())
    finally:
        conn.close()
    return h.hexdigest()


def _has_rowid(conn: sqlite3.Connection, table: str) -> bool:
    try:
        conn.execute(f'SELECT rowid FROM "{table}" LIMIT 0')
    except sqlite3.OperationalError:
        return False
    return True
