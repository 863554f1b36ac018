"""`appmod demo --keep` as a test drives it: started, read up to the line that says the parts keep
running, looked at by the test while they do, then stopped with Ctrl-C (SIGINT), which must end it with
exit code 0. Used by tests/demo/ and tests/e2e/test_demo_tasks.py."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

KEPT = "keep running until you press Ctrl-C"


@contextmanager
def kept_demo(argv: list[str], env: dict[str, str]) -> Iterator[str]:
    """Runs `argv` (an `appmod demo --keep ...`); yields what it printed until its parts were up."""
    demo = subprocess.Popen(argv, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    lines: list[str] = []
    try:
        for line in demo.stdout:
            lines.append(line)
            if KEPT in line:
                break
        yield "".join(lines)
    finally:
        demo.send_signal(signal.SIGINT)
        rest = demo.communicate(timeout=120)[0]
    assert demo.returncode == 0, "".join(lines) + rest


def connect(output: str) -> psycopg.Connection:
    """The demo's PostgreSQL through the psql URL and PGPASSFILE it printed."""
    found = re.search(r"PGPASSFILE=(\S+) psql (postgresql://\S+)", output)
    assert found, output
    return psycopg.connect(found.group(2), passfile=found.group(1))
