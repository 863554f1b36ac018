"""The checksum of a table, computed the same way on both sides: a sum of 64-bit MD5 prefixes, so it
does not depend on the order rows are stored in.

The source side hashes the bytes it sends to COPY ... FROM STDIN. The target side hashes the bytes
PostgreSQL's own COPY ... TO STDOUT writes for what it stored: the source renders every field as
COPY TO writes it (columns.py), so a value that changed on the way changes the sum.

Tables keyed by their rowid (INTEGER PRIMARY KEY, most tables) are hashed in chunks of CHUNK
consecutive rowids, read in key order: one MD5 per chunk, which PostgreSQL serves from the primary
key and Python hashes at memory speed. Other tables sum one MD5 per row.

Called by copy.py (source side) and run.py (target side).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from hashlib import md5

from appmod_operator.errors import VerificationFailed
from appmod_operator.migration.columns import Kind, pg_select
from appmod_operator.migration.source import quote

MODULUS = 2**64
CHUNK_SHIFT = 14
CHUNK = 1 << CHUNK_SHIFT  # rowids per checksum chunk


def line_hash(data: bytes) -> int:
    """The first 64 bits of the MD5 of `data`, as a signed integer."""
    return int.from_bytes(md5(data).digest()[:8], "big", signed=True)


def chunk_bounds(low: int, high: int, first_key: Callable[[int], int | None] | None = None
                 ) -> Iterator[tuple[int, int]]:
    """The chunks (inclusive rowid ranges) that cover [low, high], cut at multiples of CHUNK. With
    `first_key` (the smallest key at or above a value within [low, high], None past the last), only the
    chunks that hold a row: ids may be sparse (Django's keys set by hand to 2**40), and both sides skip the
    empty chunks the same way, so the sums still compare."""
    start = low
    while start <= high:
        if first_key is not None:
            found = first_key(start)
            if found is None:
                return
            start = max(start, found >> CHUNK_SHIFT << CHUNK_SHIFT)
        end = min(((start >> CHUNK_SHIFT) + 1 << CHUNK_SHIFT) - 1, high)
        yield start, end
        start = end + 1


def build_copy_out(relation: str, columns: list[tuple[str, Kind]], key: str | None = None,
                   bounds: tuple[int, int] | None = None) -> str:
    """COPY TO of `relation`'s columns as the source sent them; one chunk in key order when given."""
    fields = ", ".join(pg_select(kind, quote(name)) for name, kind in columns)
    query = f"SELECT {fields} FROM {relation}"
    if key is not None and bounds is not None:
        k = quote(key)
        query += f" WHERE {k} BETWEEN {int(bounds[0])} AND {int(bounds[1])} ORDER BY {k}"
    return f"COPY ({query}) TO STDOUT"


def chunk_checksum(pg, relation: str, columns: list[tuple[str, Kind]], key: str,
                   bounds: tuple[int, int]) -> tuple[int, int]:
    """(rows, hash) of one chunk as the target stores it."""
    out = io.BytesIO()  # psycopg2 writes once per row: a C write, not a Python method
    with pg.cursor() as cur:
        cur.copy_expert(build_copy_out(relation, columns, key, bounds), out)
    pg.commit()
    data = out.getvalue()
    rows = data.count(b"\n")
    return rows, line_hash(data) if rows else 0


def first_key(pg, relation: str, key: str, high: int) -> Callable[[int], int | None]:
    """chunk_bounds' `first_key` on the target: the smallest stored key from a value up to `high`."""
    def first(low: int) -> int | None:
        with pg.cursor() as cur:
            cur.execute(f"SELECT min({quote(key)}) FROM {relation} WHERE {quote(key)} BETWEEN %s AND %s", (low, high))
            found = cur.fetchone()[0]
        pg.commit()
        return found
    return first


def table_checksum(pg, relation: str, columns: list[tuple[str, Kind]], commit: bool = True) -> tuple[int, int]:
    """(rows, sum of per-row hashes) of a whole table as the target stores it, read in bounded pieces."""
    with pg.cursor() as cur, tempfile.TemporaryFile() as out:
        cur.copy_expert(build_copy_out(relation, columns), out)
        out.seek(0)
        rows = checksum = 0
        for line in out:
            rows += 1
            checksum += line_hash(line[:-1])
    if commit:
        pg.commit()
    return rows, checksum


def compare(table: str, sent_rows: int, sent_checksum: int | None, stored: tuple) -> None:
    """Raise VerificationFailed unless `stored` ((rows,) or (rows, checksum)) is what was sent."""
    expected = (sent_rows,) if len(stored) == 1 else (sent_rows, sent_checksum)
    if tuple(stored) != expected:
        held = f"{stored[0]} rows" + (f" (checksum {fingerprint(stored[1])})" if len(stored) > 1 else "")
        raise VerificationFailed(f"table {table}: the source sent {sent_rows} rows (checksum "
                                 f"{fingerprint(sent_checksum or 0)}) but the target holds {held}")


def fingerprint(total: int) -> str:
    """A checksum as 16 hex digits (for reports)."""
    return f"{total % MODULUS:016x}"
