"""Process plumbing shared by the parts: free ports, spawning with a log, waiting, stopping by pid."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def repository_pythonpath() -> str:
    """The repository first, so `python -m tests.infra...` imports from any working directory (tests/ is
    not installed), then whatever PYTHONPATH already held."""
    repo = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)


def http_status(url: str, authorization: str | None = None) -> int:
    """The HTTP status of GET url (4xx and 5xx included), 0 when nothing answered (refused, reset, timed
    out). TLS is not verified: readiness probes only."""
    request = urllib.request.Request(url, headers={"Authorization": authorization} if authorization else {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=ssl._create_unverified_context()) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:  # URLError (refused) included; a forwarded port resets until its listener is up
        return 0


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start argv in its own process group with stdout and stderr in `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )


def wait_until(ready: Callable[[], bool], what: str, timeout: float, proc: subprocess.Popen | None = None,
               log: Path | None = None) -> None:
    """Poll `ready` until it returns True; fail naming `what` and showing the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}{tail(log)}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} was not ready after {timeout:.0f}s{tail(log)}")


def wait_for(probe: Callable[[], object], what: str, timeout: float = 60):
    """Poll `probe` until it returns something truthy, and return that; fail with the last thing it saw."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except AssertionError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last saw: {last!r}")


def stop_pid(pid: int, timeout: float = 10) -> None:
    """Interrupt the process group of pid, then kill it if it lingers.

    SIGINT rather than SIGTERM: PostgreSQL treats SIGTERM as a "smart" shutdown that waits for every
    client to leave; every other part treats both alike.
    """
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    return "\n--- " + str(log) + " ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
