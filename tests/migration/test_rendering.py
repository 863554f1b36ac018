"""The renderings the checksum relies on: what SQLite (and Python) send is byte for byte what
PostgreSQL's COPY TO writes back for the stored value, for every kind and the awkward values."""

from __future__ import annotations

import io
import random
import sqlite3
import struct

import psycopg2
import pytest

from appmod_operator.migration import target, verify
from appmod_operator.migration.columns import Kind, formatter, render_sql
from appmod_operator.migration.source import quote

pytestmark = pytest.mark.e2e


def random_doubles(count: int) -> list[float]:
    rng = random.Random(7)
    values = [0.0, 0.1 + 0.2, 5e-324, 2.2250738585072014e-308, 1e308, 1e23, 2.0**53 + 2, 1e15, float("inf"),
              -float("inf"), -1.5e-7]
    while len(values) < count:
        value = struct.unpack("<d", rng.randbytes(8))[0]
        if value == value:  # not NaN: SQLite stores NaN as NULL
            values.append(value)
    return values


def roundtrip(pg_url: str, pg_type: str, kind: Kind, values: list, sqlite_type: str = "",
              scale: int | None = None) -> tuple[list, list]:
    """(lines SQLite/Python render, lines PostgreSQL's COPY TO returns) for `values`."""
    lite = sqlite3.connect(":memory:")
    lite.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, v {sqlite_type})")
    lite.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values, 1)))
    expr = render_sql(kind, quote("v"))
    rendered = [row[0] for row in lite.execute(f"SELECT {expr} FROM t ORDER BY id")]
    if kind.python_rendered:
        rendered = [formatter(kind, None, scale)(v) for v in rendered]
    else:
        rendered = [v.encode() if isinstance(v, str) else v for v in rendered]
    pg = target.connect(pg_url)
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE t (id bigint, v {pg_type})")
        data = b"".join(b"%d\t%s\n" % (i, line) for i, line in enumerate(rendered, 1))
        cur.copy_expert("COPY t FROM STDIN", io.BytesIO(data))
        out = io.BytesIO()
        cur.copy_expert(verify.build_copy_out("t", [("v", kind)], "id", (1, len(values))), out)
    pg.close()
    return rendered, out.getvalue().split(b"\n")[:-1]


def test_doubles_travel_as_exact_hex_and_come_back_identical(pg_url):
    values = random_doubles(20000)
    sent, back = roundtrip(pg_url, "double precision", Kind.REAL, values, "REAL")
    assert sent == back
    assert [float.fromhex(line.decode()) for line in sent] == values


def test_every_control_character_and_backslash_comes_back_identical(pg_url):
    values = ["".join(map(chr, range(1, 128))), "\\N", "\\.", "a\\b", "\b\t\n\v\f\r", "\u00e9\u65e5\U0001F600", "",
              None]
    sent, back = roundtrip(pg_url, "text", Kind.TEXT, values, "TEXT")
    assert sent == back
    assert sent[-1] == b"\\N"


def test_bytes_booleans_dates_and_timestamps_come_back_identical(pg_url):
    for pg_type, kind, values, declared in (
            ("bytea", Kind.BLOB, [bytes(range(256)), b"", b"\\", None], "BLOB"),
            ("boolean", Kind.BOOLEAN, [0, 1, None], "BOOLEAN"),
            ("date", Kind.DATE, ["2024-02-29", "0001-01-01", None], "")):
        sent, back = roundtrip(pg_url, pg_type, kind, values, declared)
        assert sent == back, pg_type
    stamps = ["2024-01-05 12:34:56", "2024-01-05T12:34:56.500000", "1999-12-31 23:59:59.000001",
              "2000-01-01 00:00:00.000000", None]
    sent, back = roundtrip(pg_url, "timestamp", Kind.TIMESTAMP, stamps)
    assert sent == back
    assert sent[1] == b"2024-01-05 12:34:56.5"


def test_numeric_keeps_its_scale(pg_url):
    sent, back = roundtrip(pg_url, "numeric(10,2)", Kind.NUMERIC, [19.99, 5, 0.1, -3.5, None], "DECIMAL(10,2)", 2)
    assert [line for line in sent] == back == [b"19.99", b"5.00", b"0.10", b"-3.50", b"\\N"]


def test_the_chunk_checksum_matches_postgres_md5(pg_url):
    data = b"1\tx\n2\ty\n"
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT ('x' || left(md5(%s), 16))::bit(64)::bigint", (data.decode(),))
        assert cur.fetchone()[0] == verify.line_hash(data)
    conn.close()


def test_chunks_cut_at_multiples_of_the_chunk_size():
    chunk = verify.CHUNK
    assert list(verify.chunk_bounds(5, 7)) == [(5, 7)]
    assert list(verify.chunk_bounds(chunk - 2, chunk + 1)) == [(chunk - 2, chunk - 1), (chunk, chunk + 1)]
    assert list(verify.chunk_bounds(-3, 2)) == [(-3, -1), (0, 2)]
    assert list(verify.chunk_bounds(3, 2)) == []
