"""PostgreSQL names for SQLite names: SQLite takes identifiers of any length, PostgreSQL cuts them at
63 bytes (NAMEDATALEN - 1, https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS),
so two long names that share their first 63 bytes would become one. A longer name keeps a prefix and
ends in 8 hex digits of the MD5 of the whole name, as Django's own `truncate_name` does, so the result is
the same on every run and different for different names. Names that would still meet (a short name
that happens to equal another's shortened form) are refused before anything is written.

Called by plan.py (table and column names), ddl.py (index and constraint names) and run.py (the
up-front collision check and the report of what was renamed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import md5

from appmod_operator.errors import MigrationError

MAX_BYTES = 63
_HASH_CHARS = 8


@dataclass(frozen=True)
class Renamed:
    kind: str  # table | column | index | constraint
    source: str  # the SQLite name; "table.column" for a column
    target: str  # the PostgreSQL name

    def as_dict(self) -> dict:
        return {"kind": self.kind, "from": self.source, "to": self.target}


def shorten(name: str) -> str:
    """`name` itself when PostgreSQL keeps it whole; else a prefix, '_' and 8 hex digits of its MD5."""
    encoded = name.encode()
    if len(encoded) <= MAX_BYTES:
        return name
    prefix = encoded[:MAX_BYTES - _HASH_CHARS - 1].decode(errors="ignore")  # never half a character
    return f"{prefix}_{md5(encoded, usedforsecurity=False).hexdigest()[:_HASH_CHARS]}"


def refuse_collisions(what: str, names: Iterable[tuple[str, str]]) -> None:
    """(source name, PostgreSQL name) pairs that must stay distinct: a MigrationError naming both
    source names when two would become one."""
    seen: dict[str, str] = {}
    for source, target in names:
        other = seen.setdefault(target, source)
        if other != source:
            raise MigrationError(f"{what} {other!r} and {source!r} would both be named {target!r} in PostgreSQL, "
                                 f"which keeps {MAX_BYTES} bytes of a name; rename one of them in the source "
                                 "or leave one out (--exclude)")


def renamed(kind: str, pairs: Iterable[tuple[str, str]]) -> list[Renamed]:
    """The pairs whose PostgreSQL name differs from the source's, for the report."""
    return [Renamed(kind, source, target) for source, target in pairs if source != target]


def match(name: str, present) -> str | None:
    """The name among `present` (the target's tables, or a table's columns) that `name` from the source
    has there: itself, or for a long name the one an app's migrations gave it on PostgreSQL (PostgreSQL's
    own cut, ours, or Django's `truncate_name`: 59 characters and 4 hex digits of the MD5); None if absent."""
    if name in present:
        return name
    if len(name.encode()) <= MAX_BYTES:
        return None
    encoded = name.encode()
    candidates = (encoded[:MAX_BYTES].decode(errors="ignore"), shorten(name),
                  name[:MAX_BYTES - 4] + md5(encoded, usedforsecurity=False).hexdigest()[:4])
    return next((c for c in candidates if c in present), None)
