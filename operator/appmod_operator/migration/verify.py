"""The checksum of a table: a sum of 64-bit MD5 prefixes, so it does not depend on the order rows
are stored in. The source side hashes the lines as they are sent; PostgreSQL hashes the same lines
rendered back from what it stored (columns.pg_render), so any value changed on the way changes the sum.

Tables keyed by their rowid (INTEGER PRIMARY KEY, most tables) are hashed in chunks of CHUNK
consecutive rowids, each chunk's lines joined by newlines in key order: one MD5 per chunk instead of
one per row, which is most of the cost on both sides. Other tables sum one MD5 per row.

Called by copy.py (source side) and run.py (target side, and comparing).
"""

from __future__ import annotations

from hashlib import md5

from appmod_operator.migration.columns import Kind, pg_render
from appmod_operator.migration.source import quote

MODULUS = 2**64
CHUNK_SHIFT = 13
CHUNK = 1 << CHUNK_SHIFT  # rowids per checksum chunk


def line_hash(line: bytes) -> int:
    """Matches PostgreSQL's ('x' || left(md5(line), 16))::bit(64)::bigint."""
    return int.from_bytes(md5(line).digest()[:8], "big", signed=True)


def chunk_hash(lines: bytes) -> int:
    """The hash of one chunk: its lines joined by newlines (no trailing newline)."""
    return line_hash(lines)


def chunk_bounds(low: int, high: int):
    """The chunks (inclusive rowid ranges) that cover [low, high], cut at multiples of CHUNK."""
    start = low
    while start <= high:
        end = min(((start >> CHUNK_SHIFT) + 1 << CHUNK_SHIFT) - 1, high)
        yield start, end
        start = end + 1


def build_chunked_checksum_query(relation: str, key: str, columns: list[tuple[str, Kind]]) -> str:
    """count(*) and the chunked checksum of the rows of `relation` whose `key` is BETWEEN %s AND %s."""
    line = " || E'\\t' || ".join(pg_render(kind, quote(name)) for name, kind in columns) or "''"
    k = quote(key)
    return (f"SELECT coalesce(sum(n), 0), coalesce(sum(h), 0) FROM ("
            f"SELECT count(*) AS n, ('x' || left(md5(string_agg(line, E'\\n' ORDER BY k)), 16))::bit(64)::bigint AS h "
            f"FROM (SELECT {k} AS k, {line} AS line FROM {relation} WHERE {k} BETWEEN %s AND %s) r "
            f"GROUP BY k >> {CHUNK_SHIFT}) g")


def build_checksum_query(relation: str, columns: list[tuple[str, Kind]]) -> str:
    """count(*) and the checksum of `relation`, rendering each column as its kind is sent."""
    line = " || E'\\t' || ".join(pg_render(kind, quote(name)) for name, kind in columns) or "''"
    return (f"SELECT count(*), coalesce(sum(('x' || left(md5({line}), 16))::bit(64)::bigint), 0) "
            f"FROM {relation}")


def fingerprint(total: int) -> str:
    """A checksum as 16 hex digits (for reports)."""
    return f"{total % MODULUS:016x}"
