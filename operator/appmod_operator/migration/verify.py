"""The checksum of a table, computed the same way on both sides from binary COPY streams.

The source side hashes the bytes it sends to COPY ... FROM STDIN (FORMAT BINARY). The target side
hashes the bytes PostgreSQL's own COPY ... TO STDOUT (FORMAT BINARY) writes for what it stored. Binary
COPY carries each value as its type's send function writes it, so a value that changed on the way
changes the hash.

Tables keyed by their rowid (INTEGER PRIMARY KEY, most tables) are read in key order, unit by unit
(plan.py's rowid ranges): one MD5 of each unit's whole stream, which PostgreSQL serves from the primary
key. Other tables, whose stored order is not the source's, sum one MD5 per row. A checksum is the sum of
64-bit MD5 prefixes, so units and rows may arrive in any order.

Called by copy.py (source side) and run.py and existing.py (target side).
"""

from __future__ import annotations

from hashlib import md5

from appmod_operator.errors import VerificationFailed
from appmod_operator.migration.source import quote

MODULUS = 2**64
HEADER = 19  # b"PGCOPY\n\xff\r\n\x00", flags and header extension length (https://www.postgresql.org/docs/current/sql-copy.html)


def line_hash(data: bytes) -> int:
    """The first 64 bits of the MD5 of `data`, as a signed integer."""
    return _prefix(md5(data))


def _prefix(digest) -> int:
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


class Digest:
    """The hash of one binary COPY stream, fed in pieces of any size: `ordered`, the MD5 of the whole
    stream (rows in key order); otherwise the sum of every row's MD5, and the number of rows."""

    def __init__(self, ordered: bool):
        self.ordered, self.rows, self._sum = ordered, 0, 0
        self._md5 = md5() if ordered else None
        self._pending, self._offset = bytearray(), HEADER

    def update(self, data) -> None:
        if self._md5 is not None:
            self._md5.update(data)
            return
        pending = self._pending
        pending += data
        at, end = self._offset, len(pending)
        if at > end:  # the header is not all here yet
            return
        while at + 2 <= end:
            fields = int.from_bytes(pending[at:at + 2], "big", signed=True)
            if fields < 0:  # the trailer
                at = end
                break
            row_end = _row_end(pending, at + 2, fields, end)
            if row_end is None:
                break
            self._sum += line_hash(pending[at:row_end])
            self.rows += 1
            at = row_end
        del pending[:at]
        self._offset = 0

    @property
    def checksum(self) -> int:
        return _prefix(self._md5) if self._md5 is not None else self._sum


def _row_end(data: bytearray, at: int, fields: int, end: int) -> int | None:
    """Where the row whose fields start at `at` ends, or None when `data` does not hold all of it yet."""
    for _ in range(fields):
        if at + 4 > end:
            return None
        size = int.from_bytes(data[at:at + 4], "big", signed=True)
        at += 4 + max(size, 0)  # -1: NULL, no bytes
    return at if at <= end else None


def build_copy_out(relation: str, fields: list[str], key: str | None = None,
                   bounds: tuple[int, int] | None = None) -> str:
    """COPY TO of `fields` (SQL expressions over `relation`) in binary; one unit in key order when given."""
    query = f"SELECT {', '.join(fields)} FROM {relation}"
    if key is not None and bounds is not None:
        k = quote(key)
        query += f" WHERE {k} BETWEEN {int(bounds[0])} AND {int(bounds[1])} ORDER BY {k}"
    return f"COPY ({query}) TO STDOUT (FORMAT BINARY)"


def stored(pg, relation: str, fields: list[str], key: str | None = None,
           bounds: tuple[int, int] | None = None) -> Digest:
    """The digest of what `relation` stores: one unit in key order, or (no key) the whole table row by row."""
    digest = Digest(ordered=key is not None)
    with pg.cursor() as cur, cur.copy(build_copy_out(relation, fields, key, bounds)) as out:
        for data in out:
            digest.update(data)
    return digest


def compare(table: str, sent_rows: int, sent_checksum: int | None, stored_rows: int,
            stored_checksum: int | None = None) -> None:
    """Raise VerificationFailed unless the target holds what was sent (rows, and the checksum when given)."""
    if stored_rows != sent_rows or (stored_checksum is not None and stored_checksum != sent_checksum):
        held = f"{stored_rows} rows" + (f" (checksum {fingerprint(stored_checksum)})"
                                        if stored_checksum is not None else "")
        raise VerificationFailed(f"table {table}: the source sent {sent_rows} rows (checksum "
                                 f"{fingerprint(sent_checksum or 0)}) but the target holds {held}")


def fingerprint(total: int) -> str:
    """A checksum as 16 hex digits (for reports)."""
    return f"{total % MODULUS:016x}"
