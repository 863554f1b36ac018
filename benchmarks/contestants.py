"""The contestants that run as child processes (the engine, pgloader) and the PostgreSQL server they load into.

- `Server`: --pg-url's server, or a throwaway one of tests/infra/postgres.py (autovacuum off, so that nobody's
  tables are vacuumed while the next contestant runs); a fresh database per contestant and shape, a CHECKPOINT
  before each, its CPU time, and the clean-up (or --keep).
- `run_engine`: `appmod migrate SOURCE URL --json` with the working tree's operator/ first on PYTHONPATH.
- `run_pgloader`: Debian's pgloader with its defaults, `pgloader sqlite:///SOURCE URL`.
- `run_timed`: the wall clock of either, and sampled every 20 ms (sampling.py) the CPU time and peak PSS of its
  whole process tree and its own peak RSS (VmHWM): the engine works in worker processes that os.wait4 misses.

Called by migration.py; copy_floor.py (the in-process contestant) uses `log` and `cpu_delta`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks import sampling
from benchmarks.source_schema import ident

ROOT = Path(__file__).resolve().parents[1]
ENGINE_CODE = "import sys; from appmod_operator.cli import main; sys.exit(main())"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_delta(before: float | None, after: float | None) -> float | None:
    """Server CPU seconds between two readings of Server.cpu_seconds (None when either is unknown)."""
    return None if before is None or after is None else round(after - before, 2)


class Server:
    """The PostgreSQL all contestants load into: --pg-url's, or a throwaway one of tests/infra."""

    def __init__(self, admin_url: str | None, workdir: Path):
        self._part = None
        if admin_url is None:
            from tests.infra.postgres import Postgres

            self._part = Postgres(workdir / "infra")
            log("starting a throwaway PostgreSQL (tests/infra/postgres.py)")
            self._part.start()
            admin_url = self._part.url()
        self.admin_url = admin_url
        self.databases: list[str] = []
        if self._part is not None:  # no autovacuum of one contestant's tables while the next one runs
            self.admin("ALTER SYSTEM SET autovacuum = off")
            self.admin("SELECT pg_reload_conf()")

    def admin(self, sql: str) -> None:
        import psycopg

        conn = psycopg.connect(self.admin_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def version(self) -> str:
        import psycopg

        conn = psycopg.connect(self.admin_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def create_database(self, label: str) -> str:
        name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        self.admin(f"CREATE DATABASE {ident(name)}")
        self.databases.append(name)
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + name))

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server has used so far: the postmaster and its live processes, plus the backends that
        have exited (the postmaster waits for them, so the kernel adds them to its children's times). None for a
        server of --pg-url, whose processes this script cannot see."""
        if self._part is None:
            return None
        root = self._part._pids[0]
        total = 0
        for pid in _tree(root):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if pid == root else 0)
        return total / os.sysconf("SC_CLK_TCK")

    def checkpoint(self) -> None:
        """Write out the previous contestant's dirty pages so that the next one does not pay for them."""
        import psycopg

        try:
            self.admin("CHECKPOINT")
        except psycopg.Error as e:
            log(f"CHECKPOINT failed ({e}); continuing")

    def cleanup(self, keep: bool) -> None:
        if keep:
            for name in self.databases:
                log(f"kept database {urlunsplit(urlsplit(self.admin_url)._replace(path='/' + name))}")
            if self._part is not None:
                log(f"kept the server running (pid {self._part._pids[0]}; stop it with kill -INT {self._part._pids[0]}"
                    f" and remove {self._part.data})")
            return
        import psycopg

        for name in self.databases:
            try:
                self.admin(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")
            except psycopg.Error as e:
                log(f"could not drop {name}: {e}")
        if self._part is not None:
            self._part.stop()


def run_timed(argv: list[str], out: Path, err: Path, env: dict[str, str] | None = None) -> dict:
    """Run the child; its exit code, wall seconds and what _TreeSampler saw of it and its descendants."""
    tree = _TreeSampler()
    code, seconds, tree_peak, _ = sampling.run_sampled(argv, out, err, tree, cwd=ROOT,
                                                       env={**os.environ, **(env or {})})
    return {"seconds": seconds, "cpu_seconds": round(tree.cpu_seconds(), 2),
            "peak_rss_mb": round(tree.root_hwm_kib / 1024, 1), "peak_tree_pss_mb": round(tree_peak / 1024, 1),
            "exit_code": code}


class _TreeSampler:
    """Called every 20 ms with the child's pid: returns the proportional set size (KiB) of it and its descendants
    together (shared pages counted once), and keeps the child's own VmHWM and every process's CPU time.

    Not os.wait4's figures: its ru_maxrss starts from this script's own RSS (Linux carries the high-water mark of
    the forked copy over the exec), and its CPU times miss the engine's workers, which are children of
    multiprocessing's fork server, which nobody waits for. A process's CPU time is its last sample, so each one
    that ends may lose up to 20 ms."""

    def __init__(self):
        self.root_hwm_kib = 0
        self._ticks: dict[int, int] = {}

    def __call__(self, root: int) -> int:
        total = 0
        for pid in _tree(root):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                self._ticks[pid] = int(fields[11]) + int(fields[12])
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
                if pid == root:
                    with open(f"/proc/{pid}/status") as f:
                        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
                    self.root_hwm_kib = max(self.root_hwm_kib, hwm)
            except (OSError, StopIteration, IndexError, ValueError):
                continue
        return total

    def cpu_seconds(self) -> float:
        return sum(self._ticks.values()) / os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> set[int]:
    """`root` and its descendants, through /proc/<pid>/task/<tid>/children (a walk of the tree only: scanning all of
    /proc every 20 ms took 4 ms of CPU each time, a fifth of a core taken from the contestants)."""
    tree, frontier = set(), [root]
    while frontier:
        pid = frontier.pop()
        if pid in tree:
            continue
        tree.add(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    frontier.extend(int(c) for c in f.read().split())
            except OSError:
                continue
    return tree


def _tail(path: Path, lines: int = 8) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])


def run_engine(source: Path, url: str, workdir: Path, extra_args: list[str]) -> dict:
    """`appmod migrate SOURCE URL --json` of the working tree; its JSON summary under `reported`."""
    argv = [sys.executable, "-c", ENGINE_CODE, "migrate", str(source), url, "--json", *extra_args]
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "operator"), os.environ.get("PYTHONPATH")]))}
    out, err = workdir / "engine.out", workdir / "engine.err"
    result = run_timed(argv, out, err, env)
    if result["exit_code"] != 0:
        result["error"] = f"appmod migrate exited with {result['exit_code']}: {_tail(err, 1)}"
        return result
    text = out.read_text().strip()
    try:
        result["reported"] = json.loads(text)
    except ValueError:
        try:
            result["reported"] = json.loads(text.splitlines()[-1])
        except (ValueError, IndexError):
            result["error"] = f"appmod migrate --json printed no JSON object: {text[-300:]!r}"
    return result


def run_pgloader(source: Path, url: str, workdir: Path) -> dict:
    """`pgloader sqlite:///SOURCE URL`; any ERROR or FATAL line it logs makes the result an error."""
    exe = shutil.which("pgloader")
    if exe is None:
        return {"error": "pgloader is not installed (apt-get install pgloader)"}
    out, err = workdir / "pgloader.out", workdir / "pgloader.err"
    result = run_timed([exe, f"sqlite://{source}", url], out, err)
    text = out.read_text(errors="replace") + err.read_text(errors="replace")
    if m := re.search(r"Total import time\s+(\S+)\s+(\d+)", text):
        result["reported_rows"] = int(m[2])
        result["reported_errors"] = 0 if m[1] == "✓" else int(m[1]) if m[1].isdigit() else m[1]
    errors = [line for line in text.splitlines() if " ERROR " in line or " FATAL " in line]
    if result["exit_code"] != 0:
        result["error"] = f"pgloader exited with {result['exit_code']}: " + "\n".join(errors[-5:] or [_tail(err)])
    elif errors:
        result["error"] = f"pgloader reported {len(errors)} error line(s), first: {errors[0].strip()}"
    return result
