"""A crash or Ctrl-C at any moment leaves every table complete or absent; running again converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from appmod_operator.migration import run
from tests.migration.sqlite_db import build, fetch

pytestmark = pytest.mark.e2e

ROWS = 200_000
DDL = """CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE big (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), x REAL, s TEXT);"""


@pytest.fixture
def source(tmp_path):
    return build(tmp_path / "app.sqlite", DDL, {
        "parent": [(i, f"p{i}") for i in range(1, 101)],
        "big": [(i, i % 100 + 1, i / 7, f"row {i}\twith a tab") for i in range(1, ROWS + 1)],
    })


def table_state(url: str, table: str) -> int | None:
    """Rows in public.table, or None when it does not exist."""
    if not fetch(url, "SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = %s", (table,)):
        return None
    return fetch(url, f'SELECT count(*) FROM "{table}"')[0][0]


def start(source, url) -> subprocess.Popen:
    # Its scratch folder goes next to the source: a killed run cannot remove it.
    return subprocess.Popen(["appmod", "migrate", str(source), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env={**os.environ, "TMPDIR": str(source.parent)})


def wait_for_staging(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not fetch(url, "SELECT 1 FROM pg_namespace WHERE nspname = 'appmod_staging'"):
        assert proc.poll() is None and time.monotonic() < deadline, "the migration never started loading"
        time.sleep(0.02)


@pytest.mark.parametrize("delay", [0.0, 0.4, 0.9])
def test_a_kill_mid_copy_leaves_tables_whole_or_absent_and_a_rerun_converges(source, pg_url, delay):
    proc = start(source, pg_url)
    wait_for_staging(pg_url, proc)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert table_state(pg_url, "big") in (None, ROWS)
    assert table_state(pg_url, "parent") in (None, 100)
    report = run.migrate(source, pg_url)
    assert table_state(pg_url, "big") == ROWS and table_state(pg_url, "parent") == 100
    assert fetch(pg_url, "SELECT count(DISTINCT id), min(id), max(id) FROM big") == [(ROWS, 1, ROWS)]
    assert {t.status for t in report.tables} <= {"copied", "unchanged"}


def test_ctrl_c_stops_cleanly_and_says_how_to_finish(source, pg_url):
    proc = start(source, pg_url)
    wait_for_staging(pg_url, proc)  # loading takes about a second from here: the interrupt lands mid-copy
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run the same command again" in err
    assert table_state(pg_url, "big") in (None, ROWS)
    run.migrate(source, pg_url)
    assert table_state(pg_url, "big") == ROWS


def test_worker_processes_are_born_ignoring_ctrl_c():
    # A worker forked after Ctrl-C reached the group, but before its initializer ran, broke the pool (CI).
    code = """
import multiprocessing, signal
from concurrent.futures import ProcessPoolExecutor
from appmod_operator.migration import workers
workers._start_forkserver()
with ProcessPoolExecutor(1, multiprocessing.get_context("forkserver")) as pool:
    print(pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN,
          signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "True"], out.stderr


def test_running_again_after_success_changes_nothing(source, pg_url):
    first = run.migrate(source, pg_url)
    second = run.migrate(source, pg_url)
    assert {t.status for t in second.tables} == {"unchanged"}
    assert second.checksum == first.checksum
    assert table_state(pg_url, "big") == ROWS


def test_a_caller_can_stop_a_run_and_nothing_reaches_the_target(source, pg_url):
    import threading

    from appmod_operator.errors import MigrationError

    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(MigrationError, match=r"stopped by the caller|interrupted"):
        run.migrate(source, pg_url, stop=stop)
    assert table_state(pg_url, "big") is None


def test_progress_shows_rows_and_rate_on_a_terminal(source, pg_url):
    import pty

    leader, follower = pty.openpty()  # standard error is a terminal; standard input is not needed
    proc = subprocess.Popen(["appmod", "migrate", str(source), pg_url], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    output = bytearray()
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closes when the command exits
            break
        if not data:
            break
        output.extend(data)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = output.decode(errors="replace")
    assert "big " in text and "rows/s" in text and f"{ROWS:,}/{ROWS:,} (100%" in text
