"""The COPY floor: every table's rows serialised into COPY text beforehand, then `COPY t (cols) FROM STDIN` of
all tables on one connection, in one transaction: what the wire and the server cost with no work in front.

Not timed: serialising, creating the tables (types as `--schema convert` promises, NOT NULL where SQLite has
it), and the primary keys, unique indexes, indexes and foreign keys added afterwards (`constraints_seconds`).

Called by migration.py; psycopg (3) and the standard library.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.contestants import cpu_delta, log
from benchmarks.source_schema import Table, create_table_sql, foreign_key_sql, ident, key_sql

_BATCH = 10_000


def _copy_text(v) -> str:
    if isinstance(v, bytes):
        v = v.decode()
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_real(v) -> str:
    v = float(v)
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)  # the shortest string that reads back as the same double


_ENCODERS = {
    "int": str,
    "real": _copy_real,
    "text": _copy_text,
    "blob": lambda v: "\\\\x" + (v if isinstance(v, bytes) else str(v).encode()).hex(),
    "bool": lambda v: "t" if v else "f",
    "timestamp": _copy_text,
    "date": _copy_text,
    "numeric": _copy_text,
    "time": _copy_text,
    "json": _copy_text,
    "uuid": _copy_text,
}


def serialise(sqlite_path: Path, table: Table) -> list[bytes]:
    """The rows of `table` in COPY text format, in chunks of _BATCH rows."""
    encoders = [_ENCODERS[c.kind] for c in table.columns]
    pairs = list(enumerate(encoders))
    conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    chunks = []
    try:
        cursor = conn.execute(f"SELECT {', '.join(ident(c.name) for c in table.columns)} FROM {ident(table.name)} "
                              "ORDER BY rowid")
        while batch := cursor.fetchmany(_BATCH):
            lines = ["\t".join("\\N" if row[i] is None else enc(row[i]) for i, enc in pairs) for row in batch]
            chunks.append(("\n".join(lines) + "\n").encode())
    finally:
        conn.close()
    return chunks


def run_floor(source: Path, url: str, tables: list[Table],
              server_cpu: Callable[[], float | None] = lambda: None) -> dict:
    """Load every table as described above; `seconds` and `server_cpu_seconds` (from `server_cpu`, the server's
    CPU seconds so far) cover the COPY statements and the commit only."""
    import psycopg

    log("copy_floor: serialising every row into COPY text (not timed)")
    payloads = {t.name: serialise(source, t) for t in tables}
    size = sum(len(c) for chunks in payloads.values() for c in chunks)
    conn = psycopg.connect(url, client_encoding="UTF8")
    try:
        with conn.cursor() as cur:
            for t in tables:
                cur.execute(create_table_sql(t))
        conn.commit()
        log(f"copy_floor: COPY of {size / 2**20:.1f} MiB (timed)")
        start, cpu = time.perf_counter(), server_cpu()
        with conn.cursor() as cur:
            for t in tables:
                cols = ", ".join(ident(c.name) for c in t.columns)
                with cur.copy(f"COPY {ident(t.name)} ({cols}) FROM STDIN") as copy:
                    for chunk in payloads[t.name]:  # one prepared chunk per write
                        copy.write(chunk)
        conn.commit()
        seconds, cpu = time.perf_counter() - start, cpu_delta(cpu, server_cpu())
        payloads.clear()
        start = time.perf_counter()
        by_name = {t.name: t for t in tables}
        with conn.cursor() as cur:
            for sql in [*(s for t in tables for s in key_sql(t)),
                        *(s for t in tables for s in foreign_key_sql(t, by_name))]:
                cur.execute(sql)
        conn.commit()
        return {"seconds": seconds, "constraints_seconds": time.perf_counter() - start, "bytes": size,
                "server_cpu_seconds": cpu}
    finally:
        conn.close()

