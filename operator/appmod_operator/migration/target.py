"""The PostgreSQL side: connecting (with errors that never show the password), the session settings
every rendering relies on, and what the target already holds.

Called by run.py and copy.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.types.string import BytesBinaryDumper

from appmod_operator.errors import MigrationError, TargetError

# Renderings in columns.py assume these (ISO dates, UTC, hex bytea, shortest floats), and so do the
# casts of existing mode: a naive timestamp is read as UTC (Django's convention with USE_TZ), a date and
# an interval as ISO and PostgreSQL write them, whatever the server's or the database's defaults are.
# JIT off: compiling each checksum query costs more than it saves. work_mem: checksum chunks sort in memory.
SESSION = ("SET datestyle TO ISO, YMD; SET TimeZone TO 'UTC'; SET IntervalStyle TO postgres; "
           "SET extra_float_digits TO 1; "
           "SET bytea_output TO hex; SET standard_conforming_strings TO on; SET client_encoding TO 'UTF8'; "
           "SET jit TO off; SET work_mem TO '64MB'")


def redact(url: str) -> str:
    """The URL with its password replaced, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str) -> psycopg.Connection:
    if not re.match(r"^postgres(ql)?://", url):
        raise TargetError(f"target must be a postgresql:// URL, got {redact(url)!r}")
    try:
        conn = psycopg.connect(url, connect_timeout=15, application_name="appmod-migrate")
    except psycopg.Error as e:
        password = urlsplit(url).password
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if password:
            message = message.replace(password, "***")
        raise TargetError(f"cannot connect to {redact(url)}: {message}") from None
    with conn.cursor() as cur:
        cur.execute(SESSION)
    conn.commit()
    # The bytes encoder for binary COPY (copy.py sends text, bytea and booleans as bytes): by type oid,
    # psycopg would pick the DB-API Binary wrapper's encoder, which runs in Python per value.
    conn.adapters.register_dumper(bytes, BytesBinaryDumper)
    return conn


@dataclass(frozen=True)
class TargetColumn:
    name: str
    type: str  # as declared, with modifiers: "numeric(10,2)", "character varying(255)"
    base_type: str  # the type's own name, no modifiers: "numeric", "varchar", "bpchar", "int8"
    cast_type: str  # the base type, schema-qualified for casts: "pg_catalog.varchar"
    not_null: bool
    has_default: bool
    precision: int | None
    scale: int | None

    @property
    def has_modifiers(self) -> bool:
        """A length, precision or scale that an assignment may truncate or round to."""
        return "(" in self.type


def tables(conn, schema: str) -> dict[str, list[TargetColumn]]:
    """The ordinary tables of `schema` and their columns, in column order."""
    with conn.cursor() as cur:
        # typname, not format_type(oid, NULL): the latter says "character", which as a cast means char(1).
        cur.execute("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
                   quote_ident(tn.nspname) || '.' || quote_ident(t.typname),
                   a.attnotnull, a.atthasdef OR a.attidentity <> '', a.atttypmod
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
            WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname, a.attnum""", (schema,))
        result: dict[str, list[TargetColumn]] = {}
        for table, name, type_, base, cast, not_null, has_default, typmod in cur.fetchall():
            precision, scale = _numeric_modifiers(base, typmod)
            result.setdefault(table, []).append(
                TargetColumn(name, type_, base, cast, not_null, has_default, precision, scale))
    conn.commit()
    return result


def _numeric_modifiers(base: str, typmod: int) -> tuple[int | None, int | None]:
    # numeric's typmod packs (precision << 16 | scale) + 4; -1 means unconstrained.
    if base != "numeric" or typmod < 4:
        return None, None
    return ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF


def foreign_key_parents(conn, schema: str) -> dict[str, set[str]]:
    """For each table of `schema`, the tables of the same schema its foreign keys point at."""
    with conn.cursor() as cur:
        cur.execute("""
            SELECT child.relname, parent.relname FROM pg_constraint k
            JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid
            JOIN pg_namespace n ON n.oid = child.relnamespace
            WHERE k.contype = 'f' AND n.nspname = %s AND parent.relnamespace = child.relnamespace""", (schema,))
        parents: dict[str, set[str]] = {}
        for child, parent in cur.fetchall():
            parents.setdefault(child, set()).add(parent)
    conn.commit()
    return parents


def materialized_views(conn, tables: list[str]) -> list[str]:
    """The materialized views that depend on any of `tables` (relations), directly or through other
    views, each after the ones it reads (found through the rewrite rules behind every view)."""
    if not tables:
        return []
    with conn.cursor() as cur:
        cur.execute("""
            WITH RECURSIVE dependent(view, depth) AS (
                SELECT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
                WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
                  AND d.refobjid = ANY(%s::regclass[]) AND r.ev_class <> d.refobjid
                UNION
                SELECT r.ev_class, dependent.depth + 1 FROM dependent
                JOIN pg_depend d ON d.refobjid = dependent.view AND d.classid = 'pg_rewrite'::regclass
                  AND d.refclassid = 'pg_class'::regclass
                JOIN pg_rewrite r ON r.oid = d.objid
                WHERE r.ev_class <> dependent.view AND dependent.depth < 64)
            SELECT c.oid::regclass::text FROM dependent JOIN pg_class c ON c.oid = dependent.view
            WHERE c.relkind = 'm' GROUP BY c.oid ORDER BY max(depth), 1""", (tables,))
        views = [name for (name,) in cur.fetchall()]
    conn.commit()
    return views


def holds_rows(conn, relation_name: str) -> bool:
    return query_one(conn, f"SELECT EXISTS (SELECT 1 FROM {relation_name})")[0]


def constraint_exists(conn, schema: str, table: str, name: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("""SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = %s AND c.relname = %s AND k.conname = %s""", (schema, table, name))
        found = cur.fetchone() is not None
    conn.commit()
    return found


def relation(schema: str, table: str) -> str:
    return f"{_quote(schema)}.{_quote(table)}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def execute(pg, sql: str, params: tuple = (), what: str = "", commit: bool = True,
            ignore_errors: bool = False) -> None:
    """Run one statement (or, without params, several separated by semicolons, as one transaction); a
    refusal becomes a MigrationError with PostgreSQL's words (rolled back). Committed on its own when
    no transaction is open: one round trip, not BEGIN, the statement and COMMIT."""
    alone = commit and pg.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    try:
        if alone:
            pg.autocommit = True
        with pg.cursor() as cur:
            cur.execute(sql, params or None)
        if commit:
            pg.commit()
    except psycopg.Error as e:
        pg.rollback()
        if ignore_errors:
            return
        message = e.diag.message_primary or str(e).strip()
        raise MigrationError(f"{what + ': ' if what else ''}{message}") from None
    finally:
        # Not while a statement is still in flight (Ctrl-C arrived during it): psycopg refuses, and its error
        # would hide the interrupt; the connection is closed by the caller then anyway.
        if alone and pg.info.transaction_status != psycopg.pq.TransactionStatus.ACTIVE:
            pg.autocommit = False


def query_one(pg, sql: str, params: tuple = (), commit: bool = True) -> tuple | None:
    """The first row of a query."""
    with pg.cursor() as cur:
        cur.execute(sql, params or None)
        row = cur.fetchone()
    if commit:
        pg.commit()
    return row
