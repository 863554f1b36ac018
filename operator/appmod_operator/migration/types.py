"""Convert mode: the PostgreSQL type a SQLite column becomes. The declared type name is read the way
real schemas write it (Django's SQLite backend, hand-written DDL, MySQL-style dumps) before SQLite's
own affinity rules (https://sqlite.org/datatype3.html#determination_of_column_affinity) decide for any
other name. Where the closer type depends on the values (a varchar's length, a smallint's range, JSON
that parses), the column gets it only when every value fits, and keeps a wider type with a warning
otherwise; plan.py checks that in one scan of the table.

Called by plan.py. docs/migration.md has the whole mapping as a table.
"""

from __future__ import annotations

from dataclasses import dataclass

from appmod_operator.migration.columns import Kind, temporal_valid_sql

# Declared names (upper case, spaces collapsed, parameters and UNSIGNED/SIGNED left out) by the
# PostgreSQL type they become when every value fits.
_SMALL_INTEGERS = {"SMALLINT", "TINYINT", "INT2"}
_REALS = {"REAL", "DOUBLE", "DOUBLE PRECISION", "FLOAT", "FLOAT4", "FLOAT8"}
_BOOLEANS = {"BOOL", "BOOLEAN"}
_CHARACTERS = {"CHAR", "VARCHAR", "NCHAR", "NVARCHAR", "CHARACTER", "CHARACTER VARYING", "VARYING CHARACTER",
               "NATIVE CHARACTER", "NATIONAL CHARACTER", "NATIONAL CHARACTER VARYING", "VARCHAR2", "NVARCHAR2"}
# By prefix, in this order: DATETIME2, TIMESTAMP WITH TIME ZONE (whose values then decide), DATE, TIME.
_TEMPORAL = (("DATETIME", Kind.TIMESTAMP, "timestamp"), ("TIMESTAMP", Kind.TIMESTAMP, "timestamp"),
             ("DATE", Kind.DATE, "date"), ("TIME", Kind.TIME, "time"))
_DECIMALS = {"DECIMAL", "NUMERIC", "NUMBER"}
_JSON = {"JSON", "JSONB"}
_MAX_VARCHAR = 10_485_760  # PostgreSQL's limit for varchar(n)


@dataclass(frozen=True)
class Declared:
    """A declared type split into its name and its numeric parameters: "varchar(255)" -> VARCHAR, (255,)."""

    name: str
    params: tuple[int, ...]
    text: str  # as written, for messages

    @classmethod
    def parse(cls, declared: str) -> Declared:
        head, _, rest = declared.partition("(")
        inside, _, tail = rest.partition(")")
        params = tuple(int(p) for p in inside.replace(" ", "").split(",") if p.lstrip("+-").isdigit())
        if rest and len(params) != len([p for p in inside.split(",") if p.strip()]):
            return cls(declared.upper().strip(), (), declared)  # NVARCHAR(MAX) and the like: affinity decides
        words = [w for w in f"{head} {tail}".upper().split() if w not in ("UNSIGNED", "SIGNED")]
        return cls(" ".join(words), params, declared)


@dataclass(frozen=True)
class Choice:
    """What a column becomes when every value fits (`kind`, `pg_type`), and when one does not: `misfit`
    is a SQLite condition true for a value that does not fit, `fallback` the wider choice then."""

    kind: Kind
    pg_type: str
    precision: int | None = None
    scale: int | None = None
    misfit: str | None = None
    fallback: Choice | None = None
    needs: str = ""  # what a value must be for this choice, for the warning: "at most 255 characters"


TEXT = Choice(Kind.TEXT, "text")
BIGINT = Choice(Kind.INTEGER, "bigint")


def choose(declared: str, c: str) -> Choice | None:
    """The choice for a column declared `declared` (its quoted name is `c`); None for a name this table
    does not know, which SQLite's affinity rules then decide."""
    d = Declared.parse(declared)
    name = d.name
    if name in _BOOLEANS:
        return Choice(Kind.BOOLEAN, "boolean")
    if name == "TINYINT" and d.params == (1,):  # MySQL's spelling of a boolean
        return Choice(Kind.BOOLEAN, "boolean", misfit=f"{c} NOT IN (0, 1)", fallback=BIGINT, needs="0 or 1")
    if name in _SMALL_INTEGERS:
        return Choice(Kind.INTEGER, "smallint", misfit=f"typeof({c}) = 'integer' AND {c} NOT BETWEEN -32768 AND 32767",
                      fallback=BIGINT, needs="between -32768 and 32767")
    if "INT" in name:  # INTEGER, BIGINT, INT8, MEDIUMINT, INTEGER UNSIGNED: SQLite's integers are 64-bit
        return BIGINT
    if name in _CHARACTERS and len(d.params) == 1 and 0 < d.params[0] <= _MAX_VARCHAR:
        n = d.params[0]
        return Choice(Kind.TEXT, f"varchar({n})", misfit=f"typeof({c}) <> 'text' OR length({c}) > {n}",
                      fallback=TEXT, needs=f"text of at most {n} characters")
    if name in _CHARACTERS or name in ("TEXT", "CLOB", "NTEXT", "LONGTEXT", "MEDIUMTEXT", "TINYTEXT", "STRING"):
        return TEXT
    if name in ("BLOB", "BYTEA", "BINARY", "VARBINARY", "LONGBLOB"):
        return Choice(Kind.BLOB, "bytea")
    if name in _REALS:
        return Choice(Kind.REAL, "double precision")
    temporal = next(((kind, pg_type) for prefix, kind, pg_type in _TEMPORAL if name.startswith(prefix)), None)
    if temporal:
        kind, pg_type = temporal
        return Choice(kind, pg_type, misfit=f"NOT {temporal_valid_sql(kind, c)}", fallback=TEXT,
                      needs=f"a {pg_type} as PostgreSQL reads and writes it")
    if name == "UUID":
        return Choice(Kind.UUID, "uuid", misfit=f"NOT {temporal_valid_sql(Kind.UUID, c)}", fallback=TEXT,
                      needs="a UUID (32 hex digits, hyphenated or not)")
    if name in _JSON:
        # json keeps the text as it is, so it is verified as sent; run.py turns it into jsonb after
        # verification when asked (jsonb reorders keys and drops duplicates).
        return Choice(Kind.JSON, "json", misfit=f"typeof({c}) = 'blob' OR NOT json_valid({c})", fallback=TEXT,
                      needs="valid JSON")
    if name in _DECIMALS:
        return _decimal(d)
    return None


def by_affinity(declared: str) -> Choice | None:
    """SQLite's own rules, in its order, for a name `choose` does not know; None for no declared type,
    whose values decide (plan.py)."""
    d = declared.upper()
    if "INT" in d:
        return BIGINT
    if any(word in d for word in ("CHAR", "CLOB", "TEXT")):
        return TEXT
    if "BLOB" in d:
        return Choice(Kind.BLOB, "bytea")
    if d.strip() == "":
        return None
    if any(word in d for word in ("REAL", "FLOA", "DOUB")):
        return Choice(Kind.REAL, "double precision")
    return _decimal(Declared.parse(declared))


def _decimal(d: Declared) -> Choice:
    if d.params and 0 < d.params[0] <= 1000 and (len(d.params) == 1 or 0 <= d.params[1] <= d.params[0]):
        precision, scale = d.params[0], (d.params[1] if len(d.params) > 1 else 0)
        if precision > 15:  # the values may be texts SQLite kept exact: the Python step reads them
            return Choice(Kind.NUMERIC, f"numeric({precision},{scale})", precision, scale)
        return Choice(Kind.SCALED, f"numeric({precision},{scale})", precision, scale)
    return Choice(Kind.NUMERIC, "numeric")
