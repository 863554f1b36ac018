"""The workers of a convert-mode run: starting them, their connections, and the two kinds of unit they
run, loading a rowid range into its staging table and hashing a stored range for verification.
Processes, not threads: SQLite's rendering, psycopg's encoding and the hashing would otherwise take turns
on one GIL. A small source (SMALL_SOURCE rows) loads on threads instead: starting and importing the
processes would take longer than the copy (an Oscar shop's 16,000 rows).

Called by run.py, which decides what to send and when.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import queue
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

import psycopg

from appmod_operator.errors import VerificationFailed
from appmod_operator.migration import copy, plan, source, target, verify

SMALL_SOURCE = 100_000  # rows in all tables together


def start(source_path: str, target_url: str, count: int, rows: int) -> Workers | Threads:
    """Workers for a source of about `rows` rows."""
    return (Threads if rows < SMALL_SOURCE else Workers)(source_path, target_url, count)


class Workers:
    """A pool of worker processes, warmed up with their connections while the run checks and plans."""

    def __init__(self, source_path: str, target_url: str, count: int):
        context = multiprocessing.get_context("forkserver")
        _start_forkserver()
        self.stop, self.messages = context.Event(), context.SimpleQueue()
        self._pool = ProcessPoolExecutor(count, context, initializer=_start,
                                         initargs=(source_path, target_url, self.stop, self.messages))
        # From a thread: the first fork waits for the fork server to start up, and the caller has the
        # source to check and plan meanwhile.
        threading.Thread(target=lambda: [self._pool.submit(_connections) for _ in range(count)],
                         name="appmod-workers-start", daemon=True).start()

    def load(self, p: plan.TablePlan, bounds: tuple[int, int] | None, relation: str) -> Future:
        """COPY one unit into `relation`; the result is its copy.UnitResult. Rows sent are reported on
        `messages` as (table, rows)."""
        return self._pool.submit(_load, p, bounds, relation)

    def checksum(self, relation: str, fields: list[str], key: str, bounds: tuple[int, int]) -> Future:
        """The ordered checksum of one stored unit (verify.stored)."""
        return self._pool.submit(_checksum, relation, fields, key, bounds)

    def close(self) -> None:
        self.stop.set()
        self._pool.shutdown(cancel_futures=True)


class Threads:
    """The same units on threads of this process, each with its own connections."""

    def __init__(self, source_path: str, target_url: str, count: int):
        self.stop, self.messages = threading.Event(), queue.SimpleQueue()
        self._source_path, self._target_url, self._local, self._opened = source_path, target_url, threading.local(), []
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="appmod-load")

    def load(self, p: plan.TablePlan, bounds: tuple[int, int] | None, relation: str) -> Future:
        def unit() -> copy.UnitResult:
            sqlite, pg = self._connections()
            return copy.load(sqlite, pg, p, bounds, relation, self.stop, lambda rows: self.messages.put((p.name, rows)))
        return self._pool.submit(unit)

    def checksum(self, relation: str, fields: list[str], key: str, bounds: tuple[int, int]) -> Future:
        return self._pool.submit(lambda: stored_checksum(self._connections()[1], relation, fields, key, bounds))

    def _connections(self) -> tuple:
        if not hasattr(self._local, "pair"):
            self._local.pair = open_pair(self._source_path, self._target_url)
            self._opened += self._local.pair
        return self._local.pair

    def close(self) -> None:
        self.stop.set()
        self._pool.shutdown(cancel_futures=True)
        for conn in self._opened:
            conn.close()


def _start_forkserver() -> None:
    """Start the fork server with Ctrl-C ignored, so every worker is born ignoring it: a worker forked
    after Ctrl-C reached the process group, but before its initializer ran, would otherwise die of it and
    break the pool. Python installs its Ctrl-C handler only where SIGINT is not ignored, and the fork
    server gives its children its own starting handlers. Only the main thread may change them; a server
    already running (an earlier run in this process) is kept."""
    if threading.current_thread() is not threading.main_thread():
        multiprocessing.forkserver.ensure_running()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


_worker: dict = {}  # a worker process's own state: each pool has processes of its own


def _start(source_path: str, target_url: str, stop, messages) -> None:
    """Worker process set-up: Ctrl-C is the parent's to handle (it sets `stop`, and the unit then
    rolls back cleanly); connections are opened on first use and kept for the next unit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker.update(source_path=source_path, target_url=target_url, stop=stop, messages=messages)


def open_pair(source_path: str, target_url: str) -> tuple:
    """A worker's (sqlite, pg) connections, both or neither: a database refusing the connection (`too many
    clients`) must leave nothing half-opened that the worker's next unit would take for ready."""
    sqlite = source.connect(source_path)
    try:
        return sqlite, target.connect(target_url)
    except BaseException:
        sqlite.close()
        raise


def _connections() -> tuple:
    if "pair" not in _worker:
        _worker["pair"] = open_pair(_worker["source_path"], _worker["target_url"])
    return _worker["pair"]


def _load(p: plan.TablePlan, bounds: tuple[int, int] | None, relation: str) -> copy.UnitResult:
    sqlite, pg = _connections()
    return copy.load(sqlite, pg, p, bounds, relation, _worker["stop"],
                     lambda rows: _worker["messages"].put((p.name, rows)))


def _checksum(relation: str, fields: list[str], key: str, bounds: tuple[int, int]) -> int:
    return stored_checksum(_connections()[1], relation, fields, key, bounds)


def stored_checksum(pg, relation: str, fields: list[str], key: str, bounds: tuple[int, int]) -> int:
    """The ordered checksum of one stored unit on `pg`, left with no transaction open; a read that
    PostgreSQL refuses is a VerificationFailed (it crosses a process boundary, unlike psycopg's errors)."""
    try:
        return verify.stored(pg, relation, fields, key, bounds).checksum
    except psycopg.Error as e:  # PostgreSQL's errors do not cross the process boundary: ours does
        raise VerificationFailed(f"reading {relation} back: {e.diag.message_primary or e}") from None
    finally:
        pg.rollback()  # it only read
