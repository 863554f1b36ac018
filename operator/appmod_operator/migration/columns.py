"""How a column's values travel: each column gets a Kind, and each kind has
- a SQLite expression that renders a value as a PostgreSQL COPY text field, or yields a NUL byte
  (never part of a valid field) when the value cannot be represented exactly;
- for REAL and NUMERIC, a Python formatter instead, because SQLite 3.40's printf is not correctly
  rounded past 15 digits (https://sqlite.org/printf.html), while Python's float.hex and repr are exact;
- a PostgreSQL expression that renders the stored value back to the very same text, so the checksum
  of what arrived can be compared with the checksum of what was sent.

Called by plan.py (choosing kinds), copy.py (rendering rows) and verify.py (rendering stored rows).
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal

NUL = b"\x00"
NULL_FIELD = b"\\N"


class Kind(enum.Enum):
    INTEGER = "integer"
    REAL = "real"
    NUMERIC = "numeric"
    TEXT = "text"
    BLOB = "blob"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TIME = "time"
    JSON = "json"  # the text as it is: PostgreSQL's json keeps it byte for byte
    UUID = "uuid"  # 36 or 32 hex digits, any case, sent in PostgreSQL's form (lowercase, hyphenated)
    STRICT_TEXT = "strict text"  # existing mode: text only, where a number's meaning would be a guess

    @property
    def python_rendered(self) -> bool:
        return self in (Kind.REAL, Kind.NUMERIC)


_TIME = "[0-2][0-9]:[0-5][0-9]:[0-5][0-9]"
_DATE = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]"
_TIMESTAMP_GLOB = f"{_DATE}[ T]{_TIME}"
_HEX = "[0-9a-fA-F]"
_UUID_GLOBS = ("-".join(_HEX * n for n in (8, 4, 4, 4, 12)), _HEX * 32)
_PATTERN_CHECKED = (Kind.DATE, Kind.TIMESTAMP, Kind.TIME, Kind.UUID)


def _python_valid(kind: Kind, c: str) -> str:
    if kind is Kind.REAL:
        # Integers beyond 2**53 would round on their way into a double.
        return f"(typeof({c}) = 'real' OR (typeof({c}) = 'integer' AND abs({c}) <= 9007199254740992))"
    return f"typeof({c}) IN ('integer', 'real', 'text')"  # text: a decimal written out, which _numeric reads


def invalid_sql(kind: Kind, c: str) -> str:
    """SQLite condition: the value in column expression `c` does not fit the kind (NULL fits)."""
    if kind in _PATTERN_CHECKED:
        return f"NOT {temporal_valid_sql(kind, c)}"
    condition = f"CAST({render_sql(kind, c)} AS BLOB) = X'00'"
    if kind in (Kind.TEXT, Kind.JSON, Kind.STRICT_TEXT):
        condition += f" OR (typeof({c}) = 'text' AND instr(CAST({c} AS BLOB), X'00') > 0)"
    return f"({condition})"


def why_invalid(kind: Kind) -> str:
    return {
        Kind.INTEGER: "is not an integer",
        Kind.REAL: "is not a number a double precision column can hold exactly",
        Kind.NUMERIC: "is not a number",
        Kind.TEXT: "is a blob or holds a NUL character, which PostgreSQL text cannot store",
        Kind.BLOB: "is a number, not bytes",
        Kind.BOOLEAN: "is not 0 or 1",
        Kind.DATE: "is not a valid date (YYYY-MM-DD)",
        Kind.TIMESTAMP: "is not a valid timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])",
        Kind.TIME: "is not a valid time (HH:MM:SS[.ffffff])",
        Kind.JSON: "is a blob or holds a NUL character, which PostgreSQL json cannot store",
        Kind.UUID: "is not a UUID (32 hex digits, hyphenated or not)",
        Kind.STRICT_TEXT: "is not text: as a number or bytes, its meaning for the target's type would be a guess",
    }[kind]


# Bytes that PostgreSQL's COPY TO writes escaped (backslash, \b, \t, \n, \v, \f, \r); COPY FROM reads
# the same escapes back (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2).
# Sending them escaped makes a sent line byte-identical to the line COPY TO returns, which is what the
# checksum compares. Most values have none: one GLOB is cheaper than seven replace() copies.
_ESCAPES = (("\\", "\\\\"), ("\b", "\\b"), ("\t", "\\t"), ("\n", "\\n"), ("\v", "\\v"), ("\f", "\\f"), ("\r", "\\r"))
_SPECIAL_GLOB = "*[" + "".join(raw for raw, _ in _ESCAPES) + "]*"


def _escaped(c: str) -> str:
    replaced = c
    for raw, escaped in _ESCAPES:
        replaced = f"replace({replaced}, char({ord(raw)}), '{escaped}')"
    return f"CASE WHEN {c} GLOB '{_SPECIAL_GLOB}' THEN {replaced} ELSE {c} END"


def render_sql(kind: Kind, c: str, not_null: bool = False) -> str:
    """SQLite expression: the COPY field for column `c` ('\\N' for NULL, a NUL byte when the value
    does not fit). For Python-rendered kinds, the raw value (or X'00') for the formatter.

    These are the hot path, so each tests the value's type once; a NUL inside a text value needs no
    test of its own, as it reaches the line and fails the NUL check there. Dates and timestamps were
    checked when their type was chosen (temporal_valid_sql); in existing mode they are TEXT or STRICT_TEXT."""
    if kind.python_rendered:
        return f"CASE WHEN {c} IS NULL OR {_python_valid(kind, c)} THEN {c} ELSE X'00' END"
    if kind is Kind.INTEGER:
        return f"CASE typeof({c}) WHEN 'integer' THEN CAST({c} AS TEXT) WHEN 'null' THEN '\\N' ELSE X'00' END"
    if kind in (Kind.TEXT, Kind.JSON):
        return (f"CASE typeof({c}) WHEN 'text' THEN {_escaped(c)} WHEN 'null' THEN '\\N' "
                f"WHEN 'integer' THEN CAST({c} AS TEXT) WHEN 'real' THEN "
                f"CASE WHEN CAST(printf('%!.15g', {c}) AS REAL) = {c} THEN printf('%!.15g', {c}) "
                f"ELSE printf('%!.20e', {c}) END ELSE X'00' END")
    if kind is Kind.BLOB:
        return (f"CASE typeof({c}) WHEN 'blob' THEN '\\\\x' || lower(hex({c})) WHEN 'null' THEN '\\N' "
                f"WHEN 'text' THEN '\\\\x' || lower(hex({c})) ELSE X'00' END")
    if kind is Kind.BOOLEAN:
        field = f"CASE {c} WHEN 0 THEN 'f' WHEN 1 THEN 't' ELSE X'00' END"
        return field if not_null else f"iif({c} IS NULL, '\\N', {field})"
    if kind is Kind.STRICT_TEXT:
        return f"CASE typeof({c}) WHEN 'text' THEN {_escaped(c)} WHEN 'null' THEN '\\N' ELSE X'00' END"
    return f"CASE typeof({c}) WHEN 'text' THEN {_temporal_field(kind, c)} WHEN 'null' THEN '\\N' ELSE X'00' END"


def _temporal_field(kind: Kind, c: str) -> str:
    """A checked date, time, timestamp or UUID text as PostgreSQL writes it back: a space before a
    timestamp's time and no trailing zeros in a fraction; a UUID in lowercase with its hyphens."""
    if kind is Kind.DATE:
        return c
    if kind is Kind.UUID:
        parts = " || '-' || ".join(f"substr({c}, {start}, {n})" for start, n in ((1, 8), (9, 4), (13, 4), (17, 4),
                                                                                   (21, 12)))
        return f"lower(CASE length({c}) WHEN 32 THEN {parts} ELSE {c} END)"
    whole, text = (19, f"replace({c}, 'T', ' ')") if kind is Kind.TIMESTAMP else (8, c)
    return f"CASE WHEN length({c}) > {whole} THEN rtrim(rtrim({text}, '0'), '.') ELSE {text} END"


def temporal_valid_sql(kind: Kind, c: str) -> str:
    """SQLite condition: the text in `c` has the shape of a date (or timestamp) that PostgreSQL reads
    back unchanged. Checked for every value before a column is given a date or timestamp type
    (plan.py), so render_sql need not check again on the hot path. The calendar (Feb 30) is
    PostgreSQL's to check: it refuses such a line, and copy.py names the row."""
    if kind is Kind.DATE:
        return f"(typeof({c}) = 'text' AND {c} GLOB '{_DATE}')"
    if kind is Kind.UUID:
        return f"(typeof({c}) = 'text' AND ({c} GLOB '{_UUID_GLOBS[0]}' OR {c} GLOB '{_UUID_GLOBS[1]}'))"
    pattern, whole = (_TIMESTAMP_GLOB, 19) if kind is Kind.TIMESTAMP else (_TIME, 8)
    return (f"(typeof({c}) = 'text' AND ({c} GLOB '{pattern}' OR ({c} GLOB '{pattern}.[0-9]*' "
            f"AND length({c}) <= {whole + 7} AND NOT substr({c}, {whole + 2}) GLOB '*[^0-9]*')))")


class Unrepresentable(Exception):
    """Raised by a formatter; the loader turns it into UnrepresentableValue with table and rowid."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def formatter(kind: Kind, precision: int | None = None, scale: int | None = None):
    """The Python formatter of a Python-rendered kind: value -> COPY field bytes."""
    if kind is Kind.REAL:
        return _real
    if kind is Kind.NUMERIC:
        return lambda value: _numeric(value, precision, scale)
    raise ValueError(f"{kind} is rendered by SQLite")


def _real(value) -> bytes:
    # Hexadecimal floating point is exact both ways; PostgreSQL's float8in reads it through strtod.
    if value.__class__ is float:
        return value.hex().encode()
    if value is None:
        return NULL_FIELD
    if value.__class__ is int:  # SQL let it through only if a double holds it exactly
        return float(value).hex().encode()
    raise Unrepresentable(why_invalid(Kind.REAL))


# A decimal number written out, as an app may keep one in a text column ('12.50', '-3', '1e5').
_DECIMAL_TEXT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _numeric(value, precision: int | None, scale: int | None) -> bytes:
    if value is None:
        return NULL_FIELD
    if value.__class__ is str:
        if not _DECIMAL_TEXT.fullmatch(value):
            raise Unrepresentable(why_invalid(Kind.NUMERIC))
        return _decimal(Decimal(value), precision, scale)
    if isinstance(value, bytes):
        raise Unrepresentable(why_invalid(Kind.NUMERIC))
    return _decimal(Decimal(value) if isinstance(value, int) else Decimal(repr(value)), precision, scale)


def _decimal(number: Decimal, precision: int | None, scale: int | None) -> bytes:
    if number.is_zero():
        number = number.copy_abs()  # PostgreSQL's numeric has no negative zero
    if scale is None:
        return format(number, "f").encode()
    if round(number, scale) != number:
        raise Unrepresentable(f"has more than {scale} decimal places")
    if precision is not None and abs(number) >= Decimal(10) ** (precision - scale):
        raise Unrepresentable(f"has more than {precision - scale} digits before the decimal point")
    return f"{number:.{scale}f}".encode()


def pg_select(kind: Kind, c: str) -> str:
    """PostgreSQL expression for stored column `c` whose COPY TO output is the field the source sent:
    the column itself, except REAL, sent as hexadecimal floating point (COPY TO would write decimal)."""
    return _pg_hex_float(c) if kind is Kind.REAL else c


def _pg_hex_float(c: str) -> str:
    """float.hex's format rebuilt from the IEEE bits (float8send), so no decimal rounding is involved."""
    bits = f"float8send({c})"
    sign = f"CASE WHEN get_byte({bits}, 0) >= 128 THEN '-' ELSE '' END"
    exponent = f"(((get_byte({bits}, 0) & 127) << 4) | (get_byte({bits}, 1) >> 4))"
    mantissa = f"substr(encode({bits}, 'hex'), 4)"
    return (f"{sign} || CASE WHEN {exponent} = 2047 THEN 'inf' "
            f"WHEN {exponent} = 0 AND {mantissa} = '0000000000000' THEN '0x0.0p+0' "
            f"WHEN {exponent} = 0 THEN '0x0.' || {mantissa} || 'p-1022' "
            f"ELSE '0x1.' || {mantissa} || 'p' || CASE WHEN {exponent} >= 1023 THEN '+' ELSE '' END "
            f"|| ({exponent} - 1023)::text END")
