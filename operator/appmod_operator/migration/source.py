"""The SQLite side: opening a database file safely and reading its schema.

Called by plan.py (schema) and copy.py (connections for reading rows). Read-only throughout: the
file is opened with `mode=ro` so a migration can never change the legacy database.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from appmod_operator.errors import SourceError

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Column:
    name: str
    declared: str  # the declared type as written, e.g. "DECIMAL(10, 2)", or ""
    not_null: bool
    default: str | None  # the default's SQL text, as SQLite keeps it
    pk: int  # position in the primary key, 0 when not part of it


@dataclass(frozen=True)
class Index:
    name: str
    unique: bool
    columns: tuple[str | None, ...]  # None for an expression
    where: str | None  # partial index condition (SQL text)
    origin: str  # "c" CREATE INDEX, "u" UNIQUE constraint, "pk" PRIMARY KEY


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    references: tuple[str | None, ...]  # None: the parent's primary key
    on_update: str
    on_delete: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    without_rowid: bool
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[str, ...] = ()
    sequence: int | None = None  # sqlite_sequence's last value (AUTOINCREMENT tables)
    collations: tuple[str, ...] = ()  # COLLATE clauses in the definition (not carried over; reported)
    generated: tuple[str, ...] = ()  # generated columns: computed by SQLite, not data (convert mode reports them)

    @property
    def rowid_alias(self) -> Column | None:
        """The INTEGER PRIMARY KEY column, which is the rowid itself (https://sqlite.org/lang_createtable.html#rowid)."""
        pk = [c for c in self.columns if c.pk]
        if len(pk) == 1 and pk[0].declared.upper() == "INTEGER" and not self.without_rowid:
            return pk[0]
        return None

    @property
    def row_key(self) -> str:
        """How a row is ordered and named in messages: its rowid, or its primary key without one."""
        return ", ".join(quote(c) for c in self.primary_key) if self.without_rowid else "rowid"

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(c.name for c in sorted((c for c in self.columns if c.pk), key=lambda c: c.pk))


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]
    untranslated: tuple[str, ...] = field(default=())  # "view v", "trigger t", ... reported, never dropped


def connect(path: str | Path) -> sqlite3.Connection:
    """A read-only connection; SourceError if the file is missing, not SQLite, or unreadable."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from None
    if header != SQLITE_HEADER:
        raise SourceError(f"{path} is not a SQLite database (its header is not 'SQLite format 3')")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.DatabaseError as e:
        raise SourceError(f"{path} cannot be opened as SQLite: {e}") from None
    return conn


def check_integrity(conn: sqlite3.Connection, path: str | Path) -> None:
    """quick_check reads every page, so a corrupt file fails here before anything is written."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as e:
        raise SourceError(f"{path} is corrupt: {e}") from None
    if problems != ["ok"]:
        raise SourceError(f"{path} is corrupt: {'; '.join(problems)}")


def estimated_rows(conn: sqlite3.Connection, schema: Schema) -> int:
    """About how many rows the tables hold, at once: each one's last rowid (the b-tree's right edge)."""
    return sum(conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {quote(t.name)}").fetchone()[0]
               for t in schema.tables if not t.without_rowid)


def read_schema(conn: sqlite3.Connection) -> Schema:
    objects = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ).fetchall()
    sequences = _sequences(conn)
    tables, untranslated = [], []
    for kind, name, _, sql in objects:
        if kind == "table" and sql and re.match(r"(?is)\s*create\s+virtual\s+table", sql):
            untranslated.append(f"virtual table {name}")
        elif kind == "table":
            tables.append(_table(conn, name, sql or "", sequences.get(name)))
        elif kind in ("view", "trigger"):
            untranslated.append(f"{kind} {name}")
    return Schema(tuple(tables), tuple(untranslated))


def _sequences(conn: sqlite3.Connection) -> dict[str, int]:
    exists = conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'").fetchone()
    return dict(conn.execute("SELECT name, seq FROM sqlite_sequence")) if exists else {}


def _table(conn: sqlite3.Connection, name: str, sql: str, sequence: int | None) -> Table:
    info = conn.execute(f"PRAGMA table_xinfo({quote(name)})").fetchall()
    columns = tuple(Column(col_name, declared or "", bool(not_null), default, pk)
                    for _, col_name, declared, not_null, default, pk, hidden in info
                    if hidden == 0)  # generated and hidden columns are not data to copy
    generated = tuple(row[1] for row in info if row[6] in (2, 3))  # https://sqlite.org/pragma.html#pragma_table_xinfo
    without_rowid = bool(re.search(r"(?i)\)\s*without\s+rowid", _blank_literals(sql)))
    return Table(
        name=name, columns=columns, without_rowid=without_rowid,
        indexes=_indexes(conn, name), foreign_keys=_foreign_keys(conn, name),
        checks=tuple(check_constraints(sql)), sequence=sequence,
        collations=tuple(sorted(set(m.upper() for m in re.findall(r"(?i)\bcollate\s+(\w+)", sql)))),
        generated=generated,
    )


def _indexes(conn: sqlite3.Connection, table: str) -> tuple[Index, ...]:
    indexes = []
    for _, name, unique, origin, partial in conn.execute("SELECT * FROM pragma_index_list(?)", (table,)):
        columns = tuple(row[2] for row in conn.execute("SELECT * FROM pragma_index_info(?) ORDER BY seqno", (name,)))
        where = None
        if partial:
            sql = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?", (name,)).fetchone()[0]
            where = re.split(r"(?is)\bwhere\b", sql, maxsplit=1)[1].strip()
        indexes.append(Index(name, bool(unique), columns, where, origin))
    return tuple(sorted(indexes, key=lambda i: i.name))


def _foreign_keys(conn: sqlite3.Connection, table: str) -> tuple[ForeignKey, ...]:
    groups: dict[int, list] = {}
    for fk_id, _, parent, column, parent_column, on_update, on_delete, _ in conn.execute(
            "SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", (table,)):
        groups.setdefault(fk_id, []).append((parent, column, parent_column, on_update, on_delete))
    return tuple(
        ForeignKey(tuple(r[1] for r in rows), rows[0][0], tuple(r[2] for r in rows), rows[0][3], rows[0][4])
        for rows in groups.values()
    )


def check_constraints(sql: str) -> list[str]:
    """The expressions of the CHECK constraints in a CREATE TABLE statement (balanced parentheses)."""
    checks, i = [], 0
    lowered = _blank_literals(sql).lower()
    while (match := re.compile(r"\bcheck\s*\(").search(lowered, i)):
        depth, j = 1, match.end()
        while j < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(lowered[j], 0)
            j += 1
        checks.append(sql[match.end():j - 1].strip())
        i = j
    return checks


def _blank_literals(sql: str) -> str:
    """The SQL with the insides of string literals and quoted names blanked, same length, so that
    searching it for keywords and parentheses cannot be fooled by their contents."""
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]",
                  lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[-1], sql)


def quote(name: str) -> str:
    """An identifier quoted for SQLite (and PostgreSQL: both use double quotes, doubled inside)."""
    return '"' + name.replace('"', '""') + '"'
