"""Bad input stops the run with an error naming what is wrong, and nothing half-made is left."""

from __future__ import annotations

import subprocess
from urllib.parse import urlsplit

import pytest

from appmod_operator.errors import SourceError, TargetError, TargetNotEmpty, UnrepresentableValue
from appmod_operator.migration import run
from tests.migration.sqlite_db import build, fetch

pytestmark = pytest.mark.e2e


def public_tables(url: str) -> list[str]:
    return [r[0] for r in fetch(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


@pytest.mark.parametrize(("ddl", "rows", "column", "rowid", "words"), [
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", [(1, 1), (2, "two")], "n", 2, "not an integer"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)", [(1, "ok"), (7, "nul\x00inside")], "s", 7, "NUL"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)", [(3, b"\x01\x02")], "s", 3, "blob"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, f BOOLEAN)", [(1, 1), (5, 2)], "f", 5, "not 0 or 1"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL)", [(4, "abc")], "x", 4, "double precision"),
    # An untyped column of integers and reals becomes double precision; 2**60 + 1 would round.
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, x)", [(3, 0.5), (4, 2**60 + 1)], "x", 4, "double precision"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, p DECIMAL(6, 2))", [(9, 1.005)], "p", 9, "2 decimal places"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, p DECIMAL(4, 2))", [(9, 123.5)], "p", 9, "digits before"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)", [(8, 3.5)], "b", 8, "not bytes"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", [(1, 1), (3, 2.5)], "n", 3, "not an integer"),
])
def test_an_unrepresentable_value_names_table_column_row_and_value(tmp_path, pg_url, ddl, rows, column, rowid, words):
    source = build(tmp_path / "app.sqlite", ddl, {"t": rows})
    with pytest.raises(UnrepresentableValue) as caught:
        run.migrate(source, pg_url)
    error = caught.value
    assert (error.table, error.column, error.rowid) == ("t", column, rowid)
    assert words in str(error)
    assert public_tables(pg_url) == []


def test_keep_as_text_is_the_documented_fallback(tmp_path, pg_url):
    source = build(tmp_path / "app.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)",
                   {"t": [(1, 1), (2, "two")]})
    run.migrate(source, pg_url, run.Options(keep_as_text=frozenset({"t.n"})))
    assert fetch(pg_url, "SELECT n FROM t ORDER BY id") == [("1",), ("two",)]


def test_a_file_that_is_not_sqlite(tmp_path, pg_url):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceError, match="not a SQLite database"):
        run.migrate(tmp_path / "notes.txt", pg_url)
    with pytest.raises(SourceError, match="cannot read"):
        run.migrate(tmp_path / "missing.sqlite", pg_url)


def test_a_corrupt_database(tmp_path, pg_url):
    source = build(tmp_path / "app.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)",
                   {"t": [(i, "x" * 200) for i in range(1, 2000)]})
    data = bytearray(source.read_bytes())
    data[4096 * 3:4096 * 3 + 200] = b"\xff" * 200  # clobber a b-tree page
    source.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"corrupt|malformed"):
        run.migrate(source, pg_url)
    assert public_tables(pg_url) == []


def test_an_unreachable_or_unauthenticated_target_never_shows_the_password(tmp_path, pg_url):
    source = build(tmp_path / "app.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY)", {"t": [(1,)]})
    parts = urlsplit(pg_url)
    wrong = pg_url.replace(f":{parts.password}@", ":Sup3rSecretPw@")
    with pytest.raises(TargetError) as caught:
        run.migrate(source, wrong)
    assert "Sup3rSecretPw" not in str(caught.value) and "***" in str(caught.value)
    result = subprocess.run(["appmod", "migrate", str(source), wrong], capture_output=True, text=True)
    assert result.returncode == 1 and "run the command again" in result.stderr  # a database may come up or resume
    assert "Sup3rSecretPw" not in result.stderr + result.stdout and "password authentication failed" in result.stderr
    closed = "postgresql://u:Sup3rSecretPw@127.0.0.1:1/db"
    result = subprocess.run(["appmod", "migrate", str(source), closed], capture_output=True, text=True)
    assert result.returncode == 1 and "cannot connect" in result.stderr and "Sup3rSecretPw" not in result.stderr


def test_a_target_holding_different_data_is_refused_unless_replace(tmp_path, pg_url):
    source = build(tmp_path / "app.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)", {"t": [(1, "new")]})
    fetch(pg_url, "CREATE TABLE t (id bigint PRIMARY KEY, s text); INSERT INTO t VALUES (1, 'old'), (2, 'other')")
    with pytest.raises(TargetNotEmpty, match=r"t.*--replace"):
        run.migrate(source, pg_url)
    assert fetch(pg_url, "SELECT * FROM t ORDER BY id") == [(1, "old"), (2, "other")]
    run.migrate(source, pg_url, run.Options(replace=True))
    assert fetch(pg_url, "SELECT * FROM t ORDER BY id") == [(1, "new")]


def test_cli_exit_codes_and_json(tmp_path, pg_url):
    import json
    source = build(tmp_path / "app.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)", {"t": [(1, "a")]})
    result = subprocess.run(["appmod", "migrate", f"sqlite:///{source}", pg_url, "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {"tables", "rows", "bytes", "seconds", "checksum"} <= set(summary) and summary["rows"] == 1
    assert result.stderr == ""  # no progress display when standard error is not a terminal
    (tmp_path / "bad.sqlite").write_bytes(b"not sqlite at all, not at all....")
    result = subprocess.run(["appmod", "migrate", str(tmp_path / "bad.sqlite"), pg_url], capture_output=True, text=True)
    assert result.returncode == 2 and "not a SQLite database" in result.stderr
