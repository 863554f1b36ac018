"""The renderings the checksum relies on: what SQLite (and Python) send with binary COPY is, byte for
byte, what PostgreSQL's COPY TO (FORMAT BINARY) writes back for the stored value, for every kind and the
awkward values; and the stored value is the source's, read back through psycopg and compared in Python."""

from __future__ import annotations

import datetime
import random
import sqlite3
import struct
import threading
import uuid
from decimal import Decimal

import psycopg
import pytest

from appmod_operator.migration import copy, ddl, plan, source, target, verify
from appmod_operator.migration.columns import Kind, stored_sql
from appmod_operator.migration.source import quote

pytestmark = pytest.mark.e2e


def random_doubles(count: int) -> list[float]:
    rng = random.Random(7)
    values = [0.0, -0.0, 0.1 + 0.2, 5e-324, 2.2250738585072014e-308, 1e308, 1e23, 2.0**53 + 2, 1e15,
              float("inf"), -float("inf"), -1.5e-7]
    while len(values) < count:
        value = struct.unpack("<d", rng.randbytes(8))[0]
        if value == value:  # not NaN: SQLite stores NaN as NULL
            values.append(value)
    return values


def roundtrip(tmp_path, pg_url: str, declared: str, values: list, kind: Kind) -> list:
    """Load `values` (one column declared `declared`) as convert mode does, check the sent and stored
    digests agree, and return the stored values as psycopg reads them."""
    path = tmp_path / f"{uuid.uuid4().hex}.sqlite"
    lite = sqlite3.connect(path)
    lite.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, v {declared})")
    lite.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values, 1)))
    lite.commit()
    lite.close()
    conn = source.connect(path)
    p = plan.convert_plan(conn, source.read_schema(conn).tables[0], frozenset())
    assert p.columns[1].kind is kind
    pg = target.connect(pg_url)
    try:
        target.execute(pg, "DROP TABLE IF EXISTS public.t")
        target.execute(pg, ddl.build_create_table(p, "public", []))
        sent = copy.load(conn, pg, p, p.ranges[0], "public.t", threading.Event(), lambda _: None)
        statement = ddl.build_scaled_to_numeric(p, "public", [])
        if statement:
            target.execute(pg, statement)
        fields = [stored_sql(c.kind, quote(c.target), c.scale) for c in p.columns]
        stored = verify.stored(pg, "public.t", fields, "id", p.ranges[0])
        assert stored.checksum == sent.checksum, "what was stored differs from what was sent"
        with pg.cursor() as cur:
            cur.execute("SELECT v FROM t ORDER BY id")
            return [v for (v,) in cur.fetchall()]
    finally:
        pg.close()
        conn.close()


def test_doubles_travel_as_their_bits_and_come_back_identical(tmp_path, pg_url):
    values = random_doubles(20000)
    back = roundtrip(tmp_path, pg_url, "REAL", values, Kind.REAL)
    values[1] = 0.0  # SQLite itself keeps -0.0 as 0
    assert [struct.pack(">d", v) for v in back] == [struct.pack(">d", v) for v in values]


def test_every_control_character_backslash_and_script_comes_back_identical(tmp_path, pg_url):
    values = ["".join(map(chr, range(1, 128))), "\\N", "\\.", "a\\b", "\b\t\n\v\f\r", "\u00e9\u65e5\U0001F600", "",
              None]
    assert roundtrip(tmp_path, pg_url, "TEXT", values, Kind.TEXT) == values


def test_bytes_booleans_dates_times_timestamps_and_uuids_come_back_identical(tmp_path, pg_url):
    assert roundtrip(tmp_path, pg_url, "BLOB", [bytes(range(256)), b"", b"\\", b"\x00", None], Kind.BLOB) == [
        bytes(range(256)), b"", b"\\", b"\x00", None]
    assert roundtrip(tmp_path, pg_url, "BOOLEAN", [0, 1, None], Kind.BOOLEAN) == [False, True, None]
    assert roundtrip(tmp_path, pg_url, "DATE", ["2024-02-29", "0001-01-01", "1999-12-31", "9999-12-31", None],
                     Kind.DATE) == [datetime.date(2024, 2, 29), datetime.date(1, 1, 1), datetime.date(1999, 12, 31),
                                    datetime.date(9999, 12, 31), None]
    stamps = ["2024-01-05 12:34:56", "2024-01-05T12:34:56.5", "1999-12-31 23:59:59.000001",
              "1970-01-01 00:00:00.000000", "0001-01-01 00:00:00", None]
    assert roundtrip(tmp_path, pg_url, "DATETIME", stamps, Kind.TIMESTAMP) == [
        datetime.datetime(2024, 1, 5, 12, 34, 56), datetime.datetime(2024, 1, 5, 12, 34, 56, 500000),
        datetime.datetime(1999, 12, 31, 23, 59, 59, 1), datetime.datetime(1970, 1, 1),
        datetime.datetime(1, 1, 1), None]
    assert roundtrip(tmp_path, pg_url, "TIME", ["00:00:00", "23:59:59.999999", "09:35:56.98", None], Kind.TIME) == [
        datetime.time(0), datetime.time(23, 59, 59, 999999), datetime.time(9, 35, 56, 980000), None]
    ids = ["12345678-1234-1234-1234-123456789ABC", "0123456789abcdef0123456789ABCDEF", None]
    assert roundtrip(tmp_path, pg_url, "UUID", ids, Kind.UUID) == [
        uuid.UUID(ids[0]), uuid.UUID(ids[1]), None]


def test_decimals_keep_their_scale_as_scaled_integers_or_decimals(tmp_path, pg_url):
    values = [19.99, 5, 0.1, -3.5, -0.0, 0, 99999999.99, -0.07, None]
    expected = [Decimal(x) for x in ("19.99", "5.00", "0.10", "-3.50", "0.00", "0.00", "99999999.99", "-0.07")]
    assert roundtrip(tmp_path, pg_url, "DECIMAL(10,2)", values, Kind.SCALED) == [*expected, None]
    # Beyond 15 digits: Python's Decimal of the double's shortest form.
    assert roundtrip(tmp_path, pg_url, "DECIMAL(30,4)", [12345678901.123, 0.25, 7, 1e20, None], Kind.NUMERIC) == [
        Decimal("12345678901.1230"), Decimal("0.2500"), Decimal("7.0000"), Decimal("100000000000000000000.0000"),
        None]
    assert roundtrip(tmp_path, pg_url, "NUMERIC", [1e5, 0.125, -2], Kind.NUMERIC) == [
        Decimal("100000"), Decimal("0.125"), Decimal("-2")]


def test_rows_without_a_rowid_key_are_hashed_one_by_one_in_any_order():
    """Two streams of the same rows in another order, cut in other places, give the same digest."""
    rows = [struct.pack(">hi", 1, 4) + struct.pack(">i", i) for i in range(100)]
    header, trailer = b"PGCOPY\n\xff\r\n\x00" + bytes(8), b"\xff\xff"
    forward, backward = header + b"".join(rows) + trailer, header + b"".join(reversed(rows)) + trailer
    one, other = verify.Digest(ordered=False), verify.Digest(ordered=False)
    one.update(forward)
    for at in range(0, len(backward), 7):
        other.update(backward[at:at + 7])
    assert (one.rows, one.checksum) == (other.rows, other.checksum) == (100, sum(map(verify.line_hash, rows)))
    in_order = verify.Digest(ordered=True)
    in_order.update(backward)
    assert in_order.checksum != one.checksum and in_order.checksum == verify.line_hash(backward)


def test_the_hash_matches_postgres_md5(pg_url):
    data = b"1\tx\n2\ty\n"
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:  # closed at exit
        cur.execute("SELECT ('x' || left(md5(%s), 16))::bit(64)::bigint", (data.decode(),))
        assert cur.fetchone()[0] == verify.line_hash(data)
