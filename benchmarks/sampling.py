"""Running a benchmark's contestant as a child process, timed, with its memory sampled while it runs.

Shared by contestants.py for migration.py (the PSS and CPU time of the child's whole process tree) and
image_copy.py (the child's own VmHWM): wait4's ru_maxrss cannot serve for either, as it misses worker processes
and Linux carries the parent's high-water mark over the child's exec.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

SAMPLE_SECONDS = 0.02


def run_sampled(argv: list[str], out: Path, err: Path, sample: Callable[[int], int], *,
                env: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> tuple[int, float, int, resource.struct_rusage]:
    """(exit code, wall seconds, the largest `sample(pid)` seen every 20 ms, the child's rusage)."""
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=dict(env) if env is not None else None)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, sample(proc.pid))
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - start
    return os.waitstatus_to_exitcode(status), seconds, peak, usage
