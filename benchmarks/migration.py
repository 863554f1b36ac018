"""SQLite -> PostgreSQL migration benchmark: `appmod migrate` against pgloader and the bare COPY floor, per shape.

    python benchmarks/migration.py [--shape NAME]... [--rows N | --scale F] [--json] [--pg-url URL] [--keep]

For each input shape (shapes.py: `mixed`, `decimal`, `many_small`, `wide_text`; all by default) builds its
deterministic SQLite database, then, on one PostgreSQL server and each into a fresh database, times three
contestants:

- engine:     `appmod migrate SOURCE URL --json` in a child process (contestants.py); the CPU time and peak PSS
              of it and its worker processes, and its own peak RSS, come from sampling /proc every 20 ms.
- pgloader:   Debian's pgloader with its defaults (`pgloader sqlite:///SOURCE URL`).
- copy_floor: `COPY t FROM STDIN` of rows serialised beforehand (copy_floor.py; serialising, creating the tables
              and adding the constraints afterwards are not timed): what the wire and the server cost.

After each, an independent comparator (fidelity.py) reads every row back and compares it with the source value
by value. Speed is judged by ratios against the anchors of the same run, never by absolute times; the targets
(TARGETS, and a shape's own in shapes.py) are checked per shape. Without --pg-url a throwaway server is started
with the test infrastructure (tests/infra/postgres.py). Progress goes to stderr; stdout carries the tables, or with
--json exactly one JSON object (benchmarks/README.md lists its keys).

This module owns the command line, the order of the run and the report; it is run by hand, never by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import shapes  # noqa: E402
from benchmarks.contestants import Server, cpu_delta, log, run_engine, run_pgloader  # noqa: E402
from benchmarks.copy_floor import run_floor  # noqa: E402
from benchmarks.fidelity import compare  # noqa: E402
from benchmarks.fixture_common import DEFAULT_SEED  # noqa: E402
from benchmarks.source_schema import read_schema  # noqa: E402

TARGETS = {"engine_vs_pgloader_min": 1.5, "peak_rss_mb_max": 200}  # peak: below, not at
CONTESTANTS = ("engine", "pgloader", "copy_floor")
_KEYS = {"engine": ("seconds", "rows_per_s", "cpu_seconds", "server_cpu_seconds", "peak_rss_mb", "peak_tree_pss_mb",
                    "exact"),
         "pgloader": ("seconds", "rows_per_s", "cpu_seconds", "server_cpu_seconds", "peak_rss_mb", "peak_tree_pss_mb",
                      "exact"),
         "copy_floor": ("seconds", "rows_per_s", "server_cpu_seconds", "exact")}
_EXTRAS = ("load_average", "seconds_runs", "load_average_runs", "error", "constraints_seconds", "bytes", "reported",
           "reported_rows", "reported_errors", "fidelity")


def benchmark(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="appmod-bench-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    server = Server(args.pg_url, workdir)
    summaries = {}
    try:
        version = server.version()
        for name in args.shape:
            summaries[name] = run_shape(name, _rows(args, name), args, server, workdir / name)
    finally:
        server.cleanup(args.keep)
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            log(f"kept {workdir}")
    return _overall(version, summaries)


def _rows(args: argparse.Namespace, shape: str) -> int:
    if args.rows is not None:
        return args.rows
    return max(1, round(shapes.SHAPES[shape].default_rows * args.scale))


def run_shape(name: str, rows: int, args: argparse.Namespace, server: Server, workdir: Path) -> dict:
    """Build one shape, run every contestant on it, compare each target with the source; the shape's summary."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "source.sqlite"
    extremes = args.extremes and name == "mixed"
    log(f"{name}: building {rows:,} rows into {source} (seed {args.seed}{', extremes' if extremes else ''})")
    start = time.perf_counter()
    counts = shapes.build(name, source, rows, args.seed, extremes)
    size_mb = source.stat().st_size / 2**20
    log(f"{name}: built {len(counts)} tables in {time.perf_counter() - start:.1f}s, {size_mb:.1f} MiB")
    tables = read_schema(source)
    runs: dict[str, list[dict]] = {c: [] for c in CONTESTANTS if c not in args.skip}
    for round_ in range(args.repeat):  # engine and pgloader alternate, so a busy moment hits both alike
        for contestant in runs:
            if contestant != "copy_floor" or round_ == 0:
                runs[contestant].append(_run_once(name, contestant, source, tables, args, server, workdir))
    results = {}
    for contestant, done in runs.items():
        result = _median(done)
        if "seconds" in result and result.get("exit_code", 0) == 0:
            failed = f" (error: {result['error']})" if "error" in result else ""
            log(f"{name} {contestant}: {result['seconds']:.2f}s{failed} (median of {len(done)}); comparing with "
                "the source")
            try:
                result["fidelity"] = compare(source, tables, result.pop("url"))
            except Exception as e:  # noqa: BLE001 - a broken target must not end the run
                result["fidelity"] = {"exact": False, "error": f"{type(e).__name__}: {e}"}
            result["exact"] = bool(result["fidelity"]["exact"]) and "error" not in result
            log(f"{name} {contestant}: exact={result['exact']}")
        else:
            log(f"{name} {contestant}: {result.get('error')}")
            result["exact"] = False
        result["rows_per_s"] = None if result.get("error") or not result.get("seconds") else rows / result["seconds"]
        results[contestant] = result
    return _shape_summary(shapes.SHAPES[name], rows, counts, size_mb, results)


def _run_once(name: str, contestant: str, source: Path, tables, args: argparse.Namespace, server: Server,
              workdir: Path) -> dict:
    """One timed run of one contestant into a database of its own (its URL kept for the comparison)."""
    server.checkpoint()
    load = round(os.getloadavg()[0], 2)  # on a shared machine, what else was running
    url = server.create_database(f"{name}_{contestant}")
    log(f"{name} {contestant}: loading into {urlsplit(url).path[1:]}")
    try:
        if contestant == "copy_floor":
            result = run_floor(source, url, tables, server.cpu_seconds)
        else:
            before = server.cpu_seconds()
            if contestant == "engine":
                result = run_engine(source, url, workdir, shlex.split(args.engine_args))
            else:
                result = run_pgloader(source, url, workdir)
            result["server_cpu_seconds"] = cpu_delta(before, server.cpu_seconds())
    except Exception as e:  # noqa: BLE001 - psycopg errors and the like: report, do not lose the run
        result = {"error": f"{type(e).__name__}: {e}"}
    if "seconds" in result:
        log(f"{name} {contestant}: {result['seconds']:.2f}s")
    return {**result, "url": url, "load_average": load}


def _median(done: list[dict]) -> dict:
    """The run with the median time among those that finished (the slower middle one of an even count), with
    every run's time and load average; the first run when none finished."""
    finished = sorted((r for r in done if "seconds" in r and r.get("exit_code", 0) == 0 and "error" not in r),
                      key=lambda r: r["seconds"])
    chosen = dict(finished[len(finished) // 2] if finished else done[0])
    chosen["seconds_runs"] = [round(r["seconds"], 3) if "seconds" in r else None for r in done]
    chosen["load_average_runs"] = [r["load_average"] for r in done]
    return chosen


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def _section(results: dict, name: str) -> dict | None:
    if name not in results:
        return None
    r = results[name]
    out = {k: (round(r[k], 3) if isinstance(r.get(k), float) else r.get(k)) for k in _KEYS[name]}
    if out.get("rows_per_s") is not None:
        out["rows_per_s"] = round(out["rows_per_s"])
    if name != "copy_floor":
        out["peak_mb"] = max(out.get("peak_rss_mb") or 0, out.get("peak_tree_pss_mb") or 0) or None
    for extra in _EXTRAS:
        if extra in r:
            out[extra] = round(r[extra], 3) if isinstance(r[extra], float) else r[extra]
    return out


def _shape_summary(shape: shapes.Shape, rows: int, counts: dict, size_mb: float, results: dict) -> dict:
    engine, pgloader, floor = (_section(results, n) for n in CONTESTANTS)
    rate = {n: (s or {}).get("rows_per_s") for n, s in (("e", engine), ("p", pgloader), ("f", floor))}
    ratios = {"engine_vs_pgloader": _ratio(rate["e"], rate["p"]), "engine_vs_floor": _ratio(rate["e"], rate["f"])}
    targets = {**TARGETS, "engine_seconds_max": shape.engine_seconds_max}
    unmet = []
    if ratios["engine_vs_pgloader"] is None or ratios["engine_vs_pgloader"] < TARGETS["engine_vs_pgloader_min"]:
        unmet.append("engine_vs_pgloader")
    if not engine or not engine["peak_mb"] or engine["peak_mb"] >= TARGETS["peak_rss_mb_max"]:
        unmet.append("peak_rss_mb")
    if not engine or not engine.get("exact"):
        unmet.append("exact")
    if shape.engine_seconds_max is not None and (not engine or engine.get("error") or not engine.get("seconds")
                                                 or engine["seconds"] >= shape.engine_seconds_max):
        unmet.append("engine_seconds")
    return {"shape": shape.name, "about": shape.about, "rows": rows, "tables": counts, "sqlite_mb": round(size_mb, 1),
            "engine": engine, "pgloader": pgloader, "copy_floor": floor, "ratios": ratios,
            "targets": {**targets, "met": not unmet, "unmet": unmet}}


def _overall(version: str, summaries: dict[str, dict]) -> dict:
    """Every shape's summary under `shapes`, one line per shape under `overview`, the targets of all shapes; and,
    for readers of the one-shape output this script printed before it had shapes, the first shape's keys
    (`rows`, `tables`, `engine`, `pgloader`, `copy_floor`, `ratios`) at the top level as well."""
    overview = []
    for name, s in summaries.items():
        e, p, f = (s[n] or {} for n in CONTESTANTS)
        overview.append({"shape": name, "rows": s["rows"], "engine_seconds": e.get("seconds"),
                         "pgloader_seconds": p.get("seconds"), "copy_floor_seconds": f.get("seconds"),
                         **s["ratios"], "engine_peak_mb": e.get("peak_mb"), "exact": e.get("exact"),
                         "met": s["targets"]["met"], "unmet": s["targets"]["unmet"]})
    unmet = [f"{name}.{what}" for name, s in summaries.items() for what in s["targets"]["unmet"]]
    targets = {**TARGETS, "engine_seconds_max": {n: shapes.SHAPES[n].engine_seconds_max for n in summaries
                                                 if shapes.SHAPES[n].engine_seconds_max is not None},
               "met": not unmet, "unmet": unmet}
    first = next(iter(summaries.values()), {})
    legacy = {k: first.get(k) for k in ("shape", "rows", "tables", "engine", "pgloader", "copy_floor", "ratios")}
    return {**legacy, "postgresql": version, "shapes": summaries, "overview": overview, "targets": targets}


def _fmt(v, spec: str) -> str:
    width = int(re.match(r"\d*", spec)[0] or 0)
    return "-".rjust(width) if v is None else format(v, spec)


def render_shape(s: dict) -> list[str]:
    """One shape's table: a line per contestant, the ratios and targets, then what differs from the source."""
    lines = [f"== {s['shape']}: {s['rows']:,} rows in {len(s['tables'])} tables, {s['sqlite_mb']} MiB ({s['about']})",
             f"{'contestant':<11} {'seconds':>9} {'rows/s':>11} {'CPU s':>7} {'server s':>8} {'peak MB':>8}  "
             f"{'exact':<6} notes"]
    for name in CONTESTANTS:
        r = s.get(name)
        if r is None:
            continue
        fidelity = r.get("fidelity") or {}
        notes = ["error: " + r["error"][:150].replace("\n", " ")] if r.get("error") else []
        for key, what in (("value_mismatches", "values differ"), ("missing_rows", "rows missing")):
            if fidelity.get(key):
                notes.append(f"{fidelity[key]:,} {what}")
        for key, what in (("type_mismatches", "column types differ"), ("not_null_missing", "columns lost NOT NULL"),
                          ("constraints_missing", "keys/indexes missing")):
            if fidelity.get(key):
                notes.append(f"{len(fidelity[key])} {what}")
        exact = {True: "yes", False: "NO"}.get(r.get("exact"), "-")
        lines.append(f"{name:<11} {_fmt(r.get('seconds'), '9.2f')} {_fmt(r.get('rows_per_s'), '11,')} "
                     f"{_fmt(r.get('cpu_seconds'), '7.2f')} {_fmt(r.get('server_cpu_seconds'), '8.2f')} "
                     f"{_fmt(r.get('peak_mb'), '8.1f')}  {exact:<6} {'; '.join(notes)}")
    ratios, targets = s["ratios"], s["targets"]
    lines += [f"engine / pgloader rows/s: {_fmt(ratios['engine_vs_pgloader'], '.2f')} "
              f"(target >= {targets['engine_vs_pgloader_min']}); engine / COPY floor: "
              f"{_fmt(ratios['engine_vs_floor'], '.2f')}"
              + (f"; engine seconds target < {targets['engine_seconds_max']}" if targets["engine_seconds_max"] else ""),
              f"targets met: {'yes' if targets['met'] else 'no (' + ', '.join(targets['unmet']) + ')'}"]
    for name in CONTESTANTS:
        fidelity = (s.get(name) or {}).get("fidelity") or {}
        details = fidelity.get("type_mismatches", []) + [f"NOT NULL lost: {c}" for c in
                                                         fidelity.get("not_null_missing", [])]
        details += fidelity.get("constraints_missing", [])
        details += [", ".join(f"{k}={v}" for k, v in e.items()) for e in fidelity.get("examples", [])]
        if fidelity.get("error"):
            details.append(fidelity["error"])
        if details:
            lines += [f"{name} differs from the source:", *(f"  {d}" for d in details[:20])]
            if len(details) > 20:
                lines.append(f"  ... and {len(details) - 20} more")
    return lines


def render(summary: dict) -> str:
    lines = [f"PostgreSQL {summary['postgresql']}", ""]
    for s in summary["shapes"].values():
        lines += [*render_shape(s), ""]
    lines += [f"{'shape':<11} {'rows':>9} {'engine s':>9} {'pgloader s':>10} {'floor s':>8} {'e/pgloader':>10} "
              f"{'e/floor':>8} {'peak MB':>8} {'exact':<6} targets"]
    for o in summary["overview"]:
        exact = {True: "yes", False: "NO"}.get(o["exact"], "-")
        lines.append(f"{o['shape']:<11} {o['rows']:>9,} {_fmt(o['engine_seconds'], '9.2f')} "
                     f"{_fmt(o['pgloader_seconds'], '10.2f')} {_fmt(o['copy_floor_seconds'], '8.2f')} "
                     f"{_fmt(o['engine_vs_pgloader'], '10.2f')} {_fmt(o['engine_vs_floor'], '8.2f')} "
                     f"{_fmt(o['engine_peak_mb'], '8.1f')} {exact:<6} "
                     f"{'met' if o['met'] else 'unmet: ' + ', '.join(o['unmet'])}")
    t = summary["targets"]
    lines.append(f"targets: engine / pgloader >= {t['engine_vs_pgloader_min']}, peak < {t['peak_rss_mb_max']} MB, "
                 f"exact" + "".join(f", {n} engine < {v} s" for n, v in t["engine_seconds_max"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", action="append", choices=list(shapes.SHAPES),
                        help="an input shape to run (repeatable; default: all, in the order " +
                        ", ".join(shapes.SHAPES) + ")")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--rows", type=int, help="rows in all tables together, for every shape run "
                      "(default: each shape's own size)")
    size.add_argument("--scale", type=float, default=1.0, help="each shape's own size times this (default 1)")
    parser.add_argument("--seed", default=DEFAULT_SEED, type=int)
    parser.add_argument("--repeat", type=int, default=1, help="time the engine and pgloader this many times each, "
                        "alternating, and report each one's median run (default 1; the COPY floor runs once)")
    parser.add_argument("--extremes", action="store_true", help="mixed only: add doubles near 1.8e308 and "
                        "subnormal, integers near 2**63 (pgloader fails on them)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    parser.add_argument("--pg-url", help="an admin URL of a PostgreSQL to use (CREATE DATABASE rights); "
                        "default: start a throwaway one")
    parser.add_argument("--keep", action="store_true", help="keep the databases, the server and the SQLite files")
    parser.add_argument("--skip", action="append", default=[], choices=CONTESTANTS, help="leave out a contestant")
    parser.add_argument("--engine-args", default="",
                        help="extra arguments for appmod migrate, e.g. '--verify rowcount'")
    parser.add_argument("--workdir", help="where the SQLite files and logs go, a folder per shape "
                        "(default: a temporary folder)")
    args = parser.parse_args(argv)
    args.shape = list(dict.fromkeys(args.shape or shapes.SHAPES))
    summary = benchmark(args)
    print(json.dumps(summary) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
