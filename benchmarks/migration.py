"""SQLite -> PostgreSQL migration benchmark: `appmod migrate` against pgloader and the bare COPY floor.

    python benchmarks/migration.py [--rows N] [--json] [--pg-url URL] [--keep]

Builds the deterministic SQLite database of benchmarks/sqlite_fixture.py, then, on one PostgreSQL server and each
into a fresh database, times three contestants:

- engine:     `appmod migrate SOURCE URL --json` in a child process; its peak RSS comes from os.wait4, and the
              peak PSS of it and its worker processes from sampling /proc every 20 ms.
- pgloader:   Debian's pgloader with its defaults (`pgloader sqlite:///SOURCE URL`).
- copy_floor: `COPY t FROM STDIN` of rows serialised beforehand (serialising, creating the tables and adding the
              constraints afterwards are not timed): what the wire and the server cost, with no work in front.

After each, an independent comparator reads every row back and compares it with the source value by value (see
`compare`). Speed is judged by ratios against the anchors of the same run, never by absolute times. Without
--pg-url a throwaway server is started with the test infrastructure (tests/infra/postgres.py). Progress goes to
stderr; stdout carries the table, or with --json exactly one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import sampling, sqlite_fixture  # noqa: E402

TARGETS = {"engine_vs_pgloader_min": 2.5, "engine_vs_floor_min": 0.5, "peak_rss_mb_max": 200}
CONTESTANTS = ("engine", "pgloader", "copy_floor")
ENGINE_CODE = "import sys; from appmod_operator.cli import main; sys.exit(main())"
_BATCH = 10_000
_EXAMPLES = 3


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the source's schema, and the PostgreSQL types `appmod migrate --schema convert` gives it ---------------------

@dataclass
class Column:
    name: str
    declared: str
    notnull: bool
    kind: str  # int | real | text | blob | bool | timestamp | date | numeric
    pg_type: str  # as format_type() spells it


@dataclass
class Table:
    name: str
    columns: list[Column]
    primary_key: list[str]
    unique: list[tuple[str, ...]] = field(default_factory=list)
    indexes: list[tuple[str, ...]] = field(default_factory=list)  # not unique
    foreign_keys: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = field(default_factory=list)

    @property
    def key(self) -> str | None:
        """The single integer primary key both sides are ordered and matched by, if there is one."""
        if len(self.primary_key) == 1:
            column = next(c for c in self.columns if c.name == self.primary_key[0])
            if column.kind == "int":
                return column.name
        return None


def convert_type(declared: str) -> tuple[str, str]:
    """(kind, PostgreSQL type) for a SQLite declared type: the contract of `appmod migrate --schema convert`."""
    d = " ".join(declared.upper().split())
    if m := re.fullmatch(r"(?:NUMERIC|DECIMAL) ?\( ?(\d+) ?(?:, ?(\d+) ?)?\)", d):
        return "numeric", f"numeric({m[1]},{m[2] or 0})"
    exact = {"INTEGER": ("int", "bigint"), "REAL": ("real", "double precision"), "TEXT": ("text", "text"),
             "BLOB": ("blob", "bytea"), "BOOLEAN": ("bool", "boolean"),
             "DATETIME": ("timestamp", "timestamp without time zone"),
             "TIMESTAMP": ("timestamp", "timestamp without time zone"), "DATE": ("date", "date")}
    if d in exact:
        return exact[d]
    # SQLite's own affinity rules for anything else.
    if "INT" in d:
        return "int", "bigint"
    if any(s in d for s in ("CHAR", "CLOB", "TEXT")):
        return "text", "text"
    if not d or "BLOB" in d:
        return "blob", "bytea"
    if any(s in d for s in ("REAL", "FLOA", "DOUB")):
        return "real", "double precision"
    return "numeric", "numeric"


def read_schema(sqlite_path: Path) -> list[Table]:
    conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY rowid")]
        tables = []
        for name in names:
            info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()  # cid, name, type, notnull, dflt, pk
            columns = [Column(r[1], r[2], bool(r[3]), *convert_type(r[2])) for r in info]
            table = Table(name, columns, [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])])
            for _, index, unique, origin, _ in conn.execute(f'PRAGMA index_list("{name}")'):
                if origin == "pk":
                    continue
                cols = tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{index}")'))
                (table.unique if unique else table.indexes).append(cols)
            fks: dict[int, list] = {}
            for fk_id, _, ref, src, dst, *_ in conn.execute(f'PRAGMA foreign_key_list("{name}")'):
                fks.setdefault(fk_id, []).append((ref, src, dst))
            for parts in fks.values():
                table.foreign_keys.append((tuple(p[1] for p in parts), parts[0][0], tuple(p[2] for p in parts)))
            tables.append(table)
        return tables
    finally:
        conn.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: Table) -> str:
    cols = ", ".join(f"{_ident(c.name)} {c.pg_type}{' NOT NULL' if c.notnull else ''}" for c in table.columns)
    return f"CREATE TABLE {_ident(table.name)} ({cols})"


def constraint_sql(table: Table, tables: dict[str, Table]) -> list[str]:
    t = _ident(table.name)
    out = []
    if table.primary_key:
        out.append(f"ALTER TABLE {t} ADD PRIMARY KEY ({', '.join(map(_ident, table.primary_key))})")
    for kind, index_list in (("UNIQUE INDEX", table.unique), ("INDEX", table.indexes)):
        for cols in index_list:
            out.append(f"CREATE {kind} ON {t} ({', '.join(map(_ident, cols))})")
    for cols, ref, ref_cols in table.foreign_keys:
        targets = ref_cols if all(ref_cols) else tuple(tables[ref].primary_key)
        out.append(f"ALTER TABLE {t} ADD FOREIGN KEY ({', '.join(map(_ident, cols))}) "
                   f"REFERENCES {_ident(ref)} ({', '.join(map(_ident, targets))})")
    return out


# --- COPY text format ------------------------------------------------------------------------------------------

def _copy_text(v) -> str:
    if isinstance(v, bytes):
        v = v.decode()
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_real(v) -> str:
    v = float(v)
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)  # the shortest string that reads back as the same double


_ENCODERS = {
    "int": str,
    "real": _copy_real,
    "text": _copy_text,
    "blob": lambda v: "\\\\x" + (v if isinstance(v, bytes) else str(v).encode()).hex(),
    "bool": lambda v: "t" if v else "f",
    "timestamp": _copy_text,
    "date": _copy_text,
    "numeric": _copy_text,
}


def serialise(sqlite_path: Path, table: Table) -> list[bytes]:
    """The rows of `table` in COPY text format, in chunks of _BATCH rows."""
    encoders = [_ENCODERS[c.kind] for c in table.columns]
    pairs = list(enumerate(encoders))
    conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    chunks = []
    try:
        cursor = conn.execute(f"SELECT {', '.join(_ident(c.name) for c in table.columns)} FROM {_ident(table.name)} "
                              "ORDER BY rowid")
        while batch := cursor.fetchmany(_BATCH):
            lines = ["\t".join("\\N" if row[i] is None else enc(row[i]) for i, enc in pairs) for row in batch]
            chunks.append(("\n".join(lines) + "\n").encode())
    finally:
        conn.close()
    return chunks


class _Chunks:
    """A file for copy_expert that hands over one prepared chunk per read."""

    def __init__(self, chunks: list[bytes]):
        self._chunks = iter(chunks)

    def read(self, size: int = -1) -> bytes:
        return next(self._chunks, b"")

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


# --- the comparator ----------------------------------------------------------------------------------------------

def _expected(kind: str, v):
    """The Python value psycopg2 returns for source value v when the column has its exact PostgreSQL type."""
    if v is None:
        return None
    if kind == "bool":
        return bool(v) if v in (0, 1) else v
    if kind == "timestamp" and isinstance(v, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(v)
    if kind == "date" and isinstance(v, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(v)
    if kind == "numeric" and isinstance(v, int | float):
        return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    return v


def _target_value(kind: str, v):
    if isinstance(v, memoryview):
        return v.tobytes()
    if isinstance(v, datetime) and v.tzinfo is not None:  # timestamptz: the wall clock in UTC (session TimeZone)
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


def _same(kind: str, expected, got) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if kind == "bool":  # 1 == True in Python: insist on a real boolean
        return type(got) is bool and expected == got
    if kind == "int":
        return type(got) is int and expected == got
    if kind == "real":  # REAL vs float8: equal as doubles, exactly
        return type(got) is float and float(expected) == got
    if kind == "date":  # date == datetime is False, but keep the intent visible
        return type(got) is date and expected == got
    return type(got) is type(expected) and expected == got


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(sqlite_path: Path, tables: list[Table], pg_url: str) -> dict:
    """Every source row against the target, value by value, plus column types, NOT NULL, keys and indexes.

    `exact` means: the same row count in every table, every value equal under exact semantics (doubles equal as
    doubles, text and bytes identical, 0/1 as false/true, datetime and date text equal to the parsed value), every
    column of the type `--schema convert` promises and NOT NULL wherever SQLite declares it. Missing primary keys,
    unique indexes and foreign keys are listed under `constraints_missing` (informative, not part of `exact`).
    """
    import psycopg2

    report = {"exact": True, "rows_loaded": 0, "row_mismatches": 0, "value_mismatches": 0, "missing_rows": 0,
              "extra_rows": 0, "type_mismatches": [], "not_null_missing": [], "constraints_missing": [],
              "examples": []}
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    conn = psycopg2.connect(pg_url)
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            cur.execute("SET TimeZone = 'UTC'")
        for table in tables:
            _compare_table(src, conn, table, report)
    finally:
        src.close()
        conn.close()
    report["exact"] = not (report["row_mismatches"] or report["value_mismatches"] or report["missing_rows"]
                           or report["extra_rows"] or report["type_mismatches"] or report["not_null_missing"])
    return report


def _compare_table(src: sqlite3.Connection, conn, table: Table, report: dict) -> None:
    name = table.name
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.oid, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND c.relkind IN ('r', 'p') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY n.nspname <> 'public', n.nspname LIMIT 1", (name,))
        found = cur.fetchone()
        source_rows = src.execute(f"SELECT count(*) FROM {_ident(name)}").fetchone()[0]
        if found is None:
            report["missing_rows"] += source_rows
            _example(report, {"table": name, "problem": "table missing"})
            return
        oid, schema = found
        cur.execute("SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
                    "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", (oid,))
        target_columns = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
        columns = [c for c in table.columns if c.name in target_columns]
        for c in table.columns:
            if c.name not in target_columns:
                report["type_mismatches"].append(f"{name}.{c.name}: missing")
                continue
            pg_type, notnull = target_columns[c.name]
            if pg_type != c.pg_type:
                report["type_mismatches"].append(f"{name}.{c.name}: {c.declared} -> {pg_type}, not {c.pg_type}")
            if c.notnull and not notnull:
                report["not_null_missing"].append(f"{name}.{c.name}")
        _compare_constraints(cur, oid, table, report)
    qualified = f"{_ident(schema)}.{_ident(name)}"
    key = table.key
    names = ", ".join(_ident(c.name) for c in columns)
    if key is not None:
        src_sql = f"SELECT {names} FROM {_ident(name)} ORDER BY {_ident(key)}"
        tgt_sql = f"SELECT {names} FROM {qualified} ORDER BY {_ident(key)}"
    else:  # no integer key to match rows by: both sides in the order of all their values
        order = ", ".join(str(i + 1) for i in range(len(columns)))
        src_sql = f"SELECT {names} FROM {_ident(name)} ORDER BY {order}"
        tgt_sql = f"SELECT {names} FROM {qualified} ORDER BY {order}"
    kinds = [c.kind for c in columns]
    key_index = [c.name for c in columns].index(key) if key in [c.name for c in columns] else None

    def source():
        cursor = src.execute(src_sql)
        while batch := cursor.fetchmany(_BATCH):
            for row in batch:
                yield tuple(_expected(k, v) for k, v in zip(kinds, row, strict=True))

    def target():
        with conn.cursor(name=f"cmp_{uuid.uuid4().hex[:8]}") as cur:
            cur.itersize = _BATCH
            cur.execute(tgt_sql)
            for row in cur:
                yield tuple(_target_value(k, v) for k, v in zip(kinds, row, strict=True))

    s_iter, t_iter = source(), target()
    s, t = next(s_iter, None), next(t_iter, None)
    loaded = 0
    while s is not None or t is not None:
        if t is None or (s is not None and key_index is not None and _before(s[key_index], t[key_index])):
            _missing(report, name, s, key_index)
            s = next(s_iter, None)
            continue
        loaded += 1
        if s is None or (key_index is not None and s[key_index] != t[key_index]):
            report["extra_rows"] += 1
            _example(report, {"table": name, "problem": "extra row", "key": t[key_index] if key_index is not None
                              else None})
            t = next(t_iter, None)
            continue
        if s != t or any(not _same(k, a, b) for k, a, b in zip(kinds, s, t, strict=True)):
            report["row_mismatches"] += 1
            for c, k, a, b in zip(columns, kinds, s, t, strict=True):
                if not _same(k, a, b):
                    report["value_mismatches"] += 1
                    _example(report, {"column": f"{name}.{c.name}", "key": s[key_index] if key_index is not None
                                      else None, "source": _short(a), "target": _short(b)})
        s, t = next(s_iter, None), next(t_iter, None)
    report["rows_loaded"] += loaded


def _before(a, b) -> bool:
    """Key a sorts before key b (PostgreSQL puts NULL last)."""
    return b is None or (a is not None and a < b)


def _missing(report: dict, table: str, row, key_index) -> None:
    report["missing_rows"] += 1
    _example(report, {"table": table, "problem": "row missing", "key": row[key_index] if key_index is not None
                      else None})


def _example(report: dict, example: dict) -> None:
    """Keep a few examples of each kind of difference: _EXAMPLES per column or problem, a dozen in all."""
    what = example.get("column") or (example["table"], example.get("problem"))
    same_kind = sum((e.get("column") or (e.get("table"), e.get("problem"))) == what for e in report["examples"])
    if same_kind < _EXAMPLES and len(report["examples"]) < 4 * _EXAMPLES:
        report["examples"].append(example)


def _compare_constraints(cur, oid: int, table: Table, report: dict) -> None:
    cur.execute(
        "SELECT i.indisprimary, i.indisunique, ARRAY(SELECT a.attname::text FROM unnest(i.indkey) "
        "WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "ORDER BY k.ord) FROM pg_index i WHERE i.indrelid = %s", (oid,))
    indexes = cur.fetchall()
    cur.execute(
        "SELECT ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord), r.relname::text "
        "FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid WHERE c.contype = 'f' AND c.conrelid = %s",
        (oid,))
    fks = {(tuple(cols), ref) for cols, ref in cur.fetchall()}
    if table.primary_key and not any(p and list(cols) == table.primary_key for p, _, cols in indexes):
        report["constraints_missing"].append(f"{table.name}: PRIMARY KEY ({', '.join(table.primary_key)})")
    for cols in table.unique:
        if not any(u and tuple(c) == cols for _, u, c in indexes):
            report["constraints_missing"].append(f"{table.name}: UNIQUE ({', '.join(cols)})")
    for cols, ref, _ in table.foreign_keys:
        if (cols, ref) not in fks:
            report["constraints_missing"].append(f"{table.name}: FOREIGN KEY ({', '.join(cols)}) -> {ref}")


# --- the server and its databases -------------------------------------------------------------------------------

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

    def admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def version(self) -> str:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def create_database(self, label: str) -> str:
        name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        self.admin(f"CREATE DATABASE {_ident(name)}")
        self.databases.append(name)
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + name))

    def checkpoint(self) -> None:
        """Write out the previous contestant's dirty pages so that the next one does not pay for them."""
        import psycopg2

        try:
            self.admin("CHECKPOINT")
        except psycopg2.Error as e:
            log(f"CHECKPOINT failed ({e.pgerror or e}); continuing")

    def cleanup(self, keep: bool) -> None:
        if keep:
            for name in self.databases:
                log(f"kept database {urlunsplit(urlsplit(self.admin_url)._replace(path='/' + name))}")
            if self._part is not None:
                log(f"kept the server running (pid {self._part._pids[0]}; stop it with kill -INT {self._part._pids[0]}"
                    f" and remove {self._part.data})")
            return
        import psycopg2

        for name in self.databases:
            try:
                self.admin(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
            except psycopg2.Error as e:
                log(f"could not drop {name}: {e}")
        if self._part is not None:
            self._part.stop()


# --- the contestants ---------------------------------------------------------------------------------------------

def run_timed(argv: list[str], out: Path, err: Path,
              env: dict[str, str] | None = None) -> tuple[int, float, float, float]:
    """(exit code, wall seconds, peak RSS of the child in MiB from os.wait4, peak PSS of the child and all
    its descendants in MiB, sampled every 20 ms): the engine works in worker processes that wait4 misses."""
    code, seconds, tree_peak, usage = sampling.run_sampled(argv, out, err, _tree_pss_kib, cwd=ROOT,
                                                           env={**os.environ, **(env or {})})
    return code, seconds, usage.ru_maxrss / 1024, tree_peak / 1024  # KiB on Linux


def _tree_pss_kib(root: int) -> int:
    """Proportional set size of `root` and its descendants: shared pages counted once overall."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, grown = {root}, True
    while grown:
        new = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= new
        grown = bool(new)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total


def _tail(path: Path, lines: int = 8) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])


def run_engine(source: Path, url: str, workdir: Path, extra_args: list[str]) -> dict:
    argv = [sys.executable, "-c", ENGINE_CODE, "migrate", str(source), url, "--json", *extra_args]
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "operator"), os.environ.get("PYTHONPATH")]))}
    out, err = workdir / "engine.out", workdir / "engine.err"
    code, seconds, rss, tree = run_timed(argv, out, err, env)
    result = {"seconds": seconds, "peak_rss_mb": round(rss, 1), "peak_tree_pss_mb": round(tree, 1), "exit_code": code}
    if code != 0:
        result["error"] = f"appmod migrate exited with {code}: {_tail(err, 1)}"
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
    exe = shutil.which("pgloader")
    if exe is None:
        return {"error": "pgloader is not installed (apt-get install pgloader)"}
    out, err = workdir / "pgloader.out", workdir / "pgloader.err"
    code, seconds, rss, tree = run_timed([exe, f"sqlite://{source}", url], out, err)
    result = {"seconds": seconds, "peak_rss_mb": round(rss, 1), "peak_tree_pss_mb": round(tree, 1), "exit_code": code}
    text = out.read_text(errors="replace") + err.read_text(errors="replace")
    if m := re.search(r"Total import time\s+(\S+)\s+(\d+)", text):
        result["reported_rows"] = int(m[2])
        result["reported_errors"] = 0 if m[1] == "✓" else int(m[1]) if m[1].isdigit() else m[1]
    errors = [line for line in text.splitlines() if " ERROR " in line or " FATAL " in line]
    if code != 0:
        result["error"] = f"pgloader exited with {code}: " + "\n".join(errors[-5:] or [_tail(err)])
    elif errors:
        result["error"] = f"pgloader reported {len(errors)} error line(s), first: {errors[0].strip()}"
    return result


def run_floor(source: Path, url: str, tables: list[Table]) -> dict:
    import psycopg2

    log("copy_floor: serialising every row into COPY text (not timed)")
    payloads = {t.name: serialise(source, t) for t in tables}
    size = sum(len(c) for chunks in payloads.values() for c in chunks)
    conn = psycopg2.connect(url)
    try:
        conn.set_client_encoding("UTF8")
        with conn.cursor() as cur:
            for t in tables:
                cur.execute(create_table_sql(t))
        conn.commit()
        log(f"copy_floor: COPY of {size / 2**20:.1f} MiB (timed)")
        start = time.perf_counter()
        with conn.cursor() as cur:
            for t in tables:
                cols = ", ".join(_ident(c.name) for c in t.columns)
                cur.copy_expert(f"COPY {_ident(t.name)} ({cols}) FROM STDIN", _Chunks(payloads[t.name]))
        conn.commit()
        seconds = time.perf_counter() - start
        payloads.clear()
        start = time.perf_counter()
        by_name = {t.name: t for t in tables}
        with conn.cursor() as cur:
            for t in tables:
                for sql in constraint_sql(t, by_name):
                    cur.execute(sql)
        conn.commit()
        return {"seconds": seconds, "constraints_seconds": time.perf_counter() - start, "bytes": size}
    finally:
        conn.close()


# --- the run -----------------------------------------------------------------------------------------------------

def _rate(rows: int, result: dict) -> float | None:
    if result.get("error") or not result.get("seconds"):
        return None
    return rows / result["seconds"]


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def benchmark(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="appmod-bench-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "source.sqlite"
    log(f"building {args.rows:,} rows into {source} (seed {args.seed}{', extremes' if args.extremes else ''})")
    start = time.perf_counter()
    counts = sqlite_fixture.build(source, args.rows, args.seed, extremes=args.extremes, overwrite=True)
    log(f"built {counts} in {time.perf_counter() - start:.1f}s, {source.stat().st_size / 2**20:.1f} MiB")
    tables = read_schema(source)
    server = Server(args.pg_url, workdir)
    results: dict[str, dict] = {}
    try:
        version = server.version()
        for name in CONTESTANTS:
            if name in args.skip:
                continue
            server.checkpoint()
            url = server.create_database(name)
            log(f"{name}: loading into {urlsplit(url).path[1:]}")
            try:
                if name == "engine":
                    result = run_engine(source, url, workdir, shlex.split(args.engine_args))
                elif name == "pgloader":
                    result = run_pgloader(source, url, workdir)
                else:
                    result = run_floor(source, url, tables)
            except Exception as e:  # noqa: BLE001 - psycopg2 errors and the like: report, do not lose the run
                result = {"error": f"{type(e).__name__}: {e}"}
            if "seconds" in result and result.get("exit_code", 0) == 0:
                failed = f" (error: {result['error']})" if "error" in result else ""
                log(f"{name}: {result['seconds']:.2f}s{failed}")
                log(f"{name}: comparing with the source")
                try:
                    result["fidelity"] = compare(source, tables, url)
                except Exception as e:  # noqa: BLE001 - a broken target must not end the run
                    result["fidelity"] = {"exact": False, "error": f"{type(e).__name__}: {e}"}
                result["exact"] = bool(result["fidelity"]["exact"]) and "error" not in result
                log(f"{name}: exact={result['exact']}")
            else:
                log(f"{name}: {result['error']}")
                result["exact"] = False
            result["rows_per_s"] = _rate(args.rows, result)
            results[name] = result
    finally:
        server.cleanup(args.keep)
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            log(f"kept {workdir}")
    return _summary(args.rows, counts, version, results)


def _summary(rows: int, counts: dict, version: str, results: dict) -> dict:
    def section(name: str, keys: tuple[str, ...]) -> dict | None:
        if name not in results:
            return None
        r = results[name]
        out = {k: (round(r[k], 3) if isinstance(r.get(k), float) else r.get(k)) for k in keys}
        if out.get("rows_per_s") is not None:
            out["rows_per_s"] = round(out["rows_per_s"])
        for extra in ("error", "constraints_seconds", "reported", "reported_rows", "reported_errors", "fidelity"):
            if extra in r:
                out[extra] = round(r[extra], 3) if isinstance(r[extra], float) else r[extra]
        return out

    engine = section("engine", ("seconds", "rows_per_s", "peak_rss_mb", "peak_tree_pss_mb", "exact"))
    pgloader = section("pgloader", ("seconds", "rows_per_s", "peak_rss_mb", "exact"))
    floor = section("copy_floor", ("seconds", "rows_per_s", "exact"))
    rate = {n: (s or {}).get("rows_per_s") for n, s in (("e", engine), ("p", pgloader), ("f", floor))}
    ratios = {"engine_vs_pgloader": _ratio(rate["e"], rate["p"]), "engine_vs_floor": _ratio(rate["e"], rate["f"])}
    unmet = []
    if ratios["engine_vs_pgloader"] is None or ratios["engine_vs_pgloader"] < TARGETS["engine_vs_pgloader_min"]:
        unmet.append("engine_vs_pgloader")
    if ratios["engine_vs_floor"] is None or ratios["engine_vs_floor"] < TARGETS["engine_vs_floor_min"]:
        unmet.append("engine_vs_floor")
    peak = max(engine.get("peak_rss_mb") or 0, engine.get("peak_tree_pss_mb") or 0) if engine else None
    if not peak or peak > TARGETS["peak_rss_mb_max"]:
        unmet.append("peak_rss_mb")
    if not engine or not engine.get("exact"):
        unmet.append("exact")
    return {"rows": rows, "tables": counts, "postgresql": version, "engine": engine, "pgloader": pgloader,
            "copy_floor": floor, "ratios": ratios, "targets": {**TARGETS, "met": not unmet, "unmet": unmet}}


def render(summary: dict) -> str:
    def fmt(v, spec: str) -> str:
        width = int(re.match(r"\d*", spec)[0] or 0)
        return "-".rjust(width) if v is None else format(v, spec)

    lines = [f"{summary['rows']:,} rows ({', '.join(f'{k} {v:,}' for k, v in summary['tables'].items())}), "
             f"PostgreSQL {summary['postgresql']}", "",
             f"{'contestant':<11} {'seconds':>9} {'rows/s':>11} {'peak RSS MB':>12}  {'exact':<6} notes"]
    for name in CONTESTANTS:
        r = summary.get(name)
        if r is None:
            continue
        notes = []
        fidelity = r.get("fidelity") or {}
        if r.get("error"):
            notes.append("error: " + r["error"][:150].replace("\n", " "))
        if fidelity.get("value_mismatches"):
            notes.append(f"{fidelity['value_mismatches']:,} values differ")
        if fidelity.get("missing_rows"):
            notes.append(f"{fidelity['missing_rows']:,} rows missing")
        if fidelity.get("type_mismatches"):
            notes.append(f"{len(fidelity['type_mismatches'])} column types differ")
        if fidelity.get("not_null_missing"):
            notes.append(f"NOT NULL lost on {len(fidelity['not_null_missing'])} columns")
        if fidelity.get("constraints_missing"):
            notes.append(f"{len(fidelity['constraints_missing'])} keys/indexes missing")
        exact = {True: "yes", False: "NO"}.get(r.get("exact"), "-")
        lines.append(f"{name:<11} {fmt(r.get('seconds'), '9.2f')} {fmt(r.get('rows_per_s'), '11,')} "
                     f"{fmt(r.get('peak_rss_mb'), '12.1f')}  {exact:<6} {'; '.join(notes)}")
    ratios, targets = summary["ratios"], summary["targets"]
    lines += ["",
              f"engine / pgloader rows/s: {fmt(ratios['engine_vs_pgloader'], '.2f')} "
              f"(target >= {targets['engine_vs_pgloader_min']})",
              f"engine / COPY floor rows/s: {fmt(ratios['engine_vs_floor'], '.2f')} "
              f"(target >= {targets['engine_vs_floor_min']})",
              f"targets met: {'yes' if targets['met'] else 'no (' + ', '.join(targets['unmet']) + ')'}"]
    for name in CONTESTANTS:
        fidelity = (summary.get(name) or {}).get("fidelity") or {}
        details = fidelity.get("type_mismatches", []) + [f"NOT NULL lost: {c}" for c in
                                                         fidelity.get("not_null_missing", [])]
        details += fidelity.get("constraints_missing", [])
        details += [", ".join(f"{k}={v}" for k, v in e.items()) for e in fidelity.get("examples", [])]
        if fidelity.get("error"):
            details.append(fidelity["error"])
        if details:
            lines += ["", f"{name} differs from the source:", *(f"  {d}" for d in details)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=sqlite_fixture.DEFAULT_ROWS, help="rows in all tables together")
    parser.add_argument("--seed", default=sqlite_fixture.DEFAULT_SEED, type=int)
    parser.add_argument("--extremes", action="store_true",
                        help="add doubles near 1.8e308 and subnormal, integers near 2**63 (pgloader fails on them)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--pg-url", help="an admin URL of a PostgreSQL to use (CREATE DATABASE rights); "
                        "default: start a throwaway one")
    parser.add_argument("--keep", action="store_true", help="keep the databases, the server and the SQLite file")
    parser.add_argument("--skip", action="append", default=[], choices=CONTESTANTS, help="leave out a contestant")
    parser.add_argument("--engine-args", default="",
                        help="extra arguments for appmod migrate, e.g. '--verify rowcount'")
    parser.add_argument("--workdir", help="where the SQLite file and logs go (default: a temporary folder)")
    args = parser.parse_args(argv)
    summary = benchmark(args)
    if args.json:
        print(json.dumps(summary))
    else:
        print(render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
