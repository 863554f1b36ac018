"""Several migrations at once in one process (the operator runs one per resource): each through its own
pool of worker processes, each exact, none seeing another's state; and a worker whose database refused
the connection (`too many clients`) keeps refusing cleanly instead of failing on half-opened state."""

from __future__ import annotations

import threading

import pytest

from appmod_operator.errors import TargetError
from appmod_operator.migration import run, workers
from tests.migration.sqlite_db import build, fetch

pytestmark = pytest.mark.e2e

MIGRATIONS = 3
ROWS = workers.SMALL_SOURCE + 20_000  # enough for worker processes, not threads


@pytest.fixture
def sources(tmp_path):
    return [build(tmp_path / f"app{n}.sqlite", "CREATE TABLE item (id INTEGER PRIMARY KEY, n INTEGER, s TEXT);",
                  {"item": [(i, i * (n + 1), f"source {n} row {i}") for i in range(1, ROWS + 1)]})
            for n in range(MIGRATIONS)]


@pytest.fixture
def targets(postgres):
    urls = [postgres.create_database() for _ in range(MIGRATIONS)]
    yield urls
    for url in urls:
        postgres.drop_database(url)


def test_migrations_at_once_in_one_process_are_each_exact(sources, targets):
    reports, errors = {}, {}

    def one(n: int) -> None:
        try:
            reports[n] = run.migrate(sources[n], targets[n])
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors[n] = e

    threads = [threading.Thread(target=one, args=(n,)) for n in range(MIGRATIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    for n in range(MIGRATIONS):
        assert reports[n].rows == ROWS
        assert fetch(targets[n], "SELECT count(*), sum(n), min(s) FROM item")[0] == (
            ROWS, (n + 1) * ROWS * (ROWS + 1) // 2, f"source {n} row 1")
    print(f"{MIGRATIONS} migrations at once, {ROWS:,} rows each: "
          + ", ".join(f"{reports[n].seconds:.1f}s" for n in range(MIGRATIONS)))


def test_a_worker_refused_by_the_database_keeps_no_half_opened_state(sources, monkeypatch):
    monkeypatch.setattr(workers, "_worker", {"source_path": str(sources[0]),
                                             "target_url": "postgresql://appmod@127.0.0.1:1/none"})
    for _ in range(2):  # the second unit of the same worker meets the same refusal, not a KeyError
        with pytest.raises(TargetError, match="cannot connect"):
            workers._connections()
    assert "pair" not in workers._worker
