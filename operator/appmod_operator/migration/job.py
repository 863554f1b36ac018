"""What a migration is asked to do (Options) and what it reports (Report, TableReport).

Used by run.py and existing.py; callers construct Options and read the Report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import md5

from appmod_operator.migration.identifiers import Renamed
from appmod_operator.migration.plan import UNIT_ROWS

Progress = Callable[[str, int, int], None]  # (table, rows done, rows in all)


@dataclass(frozen=True)
class Options:
    schema: str = "convert"  # convert | existing
    verify: str = "checksum"  # checksum | rowcount
    replace: bool = False
    workers: int = 2
    keep_as_text: frozenset[str] = frozenset()  # "table.column": keep as text instead of failing
    exclude: frozenset[str] = frozenset()  # tables not to copy
    target_schema: str = "public"
    unit_rows: int = UNIT_ROWS
    json_type: str = "json"  # convert mode: json (the text as it is) | jsonb (parsed, after verification)


@dataclass
class TableReport:
    name: str
    rows: int
    bytes: int
    checksum: str
    status: str  # copied | unchanged


@dataclass
class Report:
    tables: list[TableReport] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)  # names cut to PostgreSQL's 63 bytes
    replaced: list[str] = field(default_factory=list)  # existing mode: tables whose rows the source's replaced
    refreshed: list[str] = field(default_factory=list)  # existing mode: materialized views refreshed after the load

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    @property
    def checksum(self) -> str:
        """One fingerprint over every table's name, row count and checksum."""
        text = "\n".join(f"{t.name}\t{t.rows}\t{t.checksum}" for t in sorted(self.tables, key=lambda t: t.name))
        return md5(text.encode()).hexdigest()[:16]

    def summary(self) -> dict:
        return {"tables": len(self.tables), "rows": self.rows, "bytes": self.bytes,
                "seconds": round(self.seconds, 3), "checksum": self.checksum,
                "copied": [t.name for t in self.tables if t.status == "copied"],
                "unchanged": [t.name for t in self.tables if t.status == "unchanged"],
                "warnings": self.warnings, "untranslated": self.untranslated,
                "renamed": [r.as_dict() for r in self.renamed], "replaced": self.replaced, "refreshed": self.refreshed}
