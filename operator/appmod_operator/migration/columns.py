"""How a column's values travel: each column gets a Kind, and each kind has a Field for binary COPY:
- a SQLite expression that yields the value in the form the wire type's binary encoder takes (an
  integer for int8, a date as its day number, a text as its UTF-8 bytes), or a marker of the wrong
  Python type (bytes for a number, 0 for bytes) that the encoder refuses, when the value does not fit;
- the PostgreSQL type psycopg encodes it as (`wire`);
- for NUMERIC and UUID, and for REAL in existing mode, a Python step (`convert`), where SQLite cannot
  produce the value exactly: SQLite 3.40's printf is not correctly rounded past 15 digits
  (https://sqlite.org/printf.html), while Python's float.hex, repr and Decimal are exact.

Binary COPY stores what it is sent without parsing text, and COPY TO (FORMAT BINARY) gives back the stored
value's bytes, so what was sent and what was stored compare byte for byte (verify.py).

Convert mode sends each value as its column's own type (`native`); existing mode sends text into a
staging table, cast afterwards by PostgreSQL (`as_text`).

Called by plan.py (choosing kinds), copy.py (the SELECT and the COPY) and types.py (value checks).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal


class Kind(enum.Enum):
    INTEGER = "integer"
    REAL = "real"
    NUMERIC = "numeric"
    # A numeric(p,s), p <= 18, whose every value is an integer or a double with at most s places: sent as
    # the integer value * 10**s (no Python step), made numeric by PostgreSQL once loaded (ddl.py).
    SCALED = "scaled numeric"
    TEXT = "text"
    BLOB = "blob"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TIME = "time"
    JSON = "json"  # the text as it is: PostgreSQL's json keeps it byte for byte
    UUID = "uuid"  # 36 or 32 hex digits, any case
    STRICT_TEXT = "strict text"  # existing mode: text only, where a number's meaning would be a guess


@dataclass(frozen=True)
class Field:
    sql: str  # SQLite expression over the column
    wire: str  # the type psycopg encodes the value as ("bytea": the bytes as they are)
    convert: Callable | None = None  # Python step from the SQLite value to the encoder's value


# Markers of the wrong type, refused by psycopg's encoders: bytes where a number goes, 0 where bytes go.
NOT_A_NUMBER, NOT_BYTES = "X'00'", "0"

_HEX = "[0-9a-fA-F]"
_UUID_GLOBS = ("-".join(_HEX * n for n in (8, 4, 4, 4, 12)), _HEX * 32)
_EPOCH_2000 = 946_684_800  # PostgreSQL's binary dates and timestamps count from 2000-01-01
_MAX_EXACT_INTEGER = 9_007_199_254_740_992  # 2**53: larger integers round on their way into a double


def why_invalid(kind: Kind) -> str:
    return {
        Kind.INTEGER: "is not an integer",
        Kind.REAL: "is not a number a double precision column can hold exactly",
        Kind.NUMERIC: "is not a number",
        Kind.SCALED: "is not a number",
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


def invalid_sql(kind: Kind, c: str, precision: int | None = None, scale: int | None = None) -> str:
    """SQLite condition: the non-NULL value in column expression `c` does not fit the kind; what the
    markers of `native` and `as_text` stand for (a NUL inside a text is PostgreSQL's to refuse)."""
    if kind is Kind.INTEGER:
        return f"typeof({c}) <> 'integer'"
    if kind is Kind.REAL:
        return f"NOT {_exact_double(c)}"
    if kind is Kind.NUMERIC:
        return f"typeof({c}) = 'blob'"
    if kind is Kind.SCALED:
        return _scaled_misfit(c, precision, scale)
    if kind in (Kind.TEXT, Kind.JSON):
        return f"(typeof({c}) = 'blob' OR instr(CAST({c} AS BLOB), X'00') > 0)"
    if kind is Kind.STRICT_TEXT:
        return f"(typeof({c}) <> 'text' OR instr(CAST({c} AS BLOB), X'00') > 0)"
    if kind is Kind.BLOB:
        return f"typeof({c}) NOT IN ('blob', 'text')"
    if kind is Kind.BOOLEAN:
        return f"{c} NOT IN (0, 1)"
    return f"NOT {temporal_valid_sql(kind, c)}"


def _scaled_misfit(c: str, precision: int, scale: int) -> str:
    """SQLite condition: the non-NULL value in `c` cannot go as a SCALED numeric(precision, scale). A number
    fits when N / 10**s gives it back for N the integer nearest to value * 10**s: IEEE division is correctly
    rounded, so the decimal N / 10**s is then exactly the value's shortest form, with at most s places. (No
    typeof: SQLite orders every text and blob after every number, so they fail the first comparison.)"""
    limit, factor = 10 ** (precision - scale), 10 ** scale
    return f"NOT ({c} < {limit} AND {c} > -{limit} AND round({c} * {factor}) / {factor}.0 = {c})"


def why_misfit(kind: Kind, value, precision: int | None, scale: int | None) -> str:
    """Why `value` (found by invalid_sql) does not fit: for numbers, which limit it breaks."""
    if kind is Kind.SCALED:
        try:
            _exact_decimal(value, precision, scale)
        except Unrepresentable as e:
            return e.why
        return f"is not an integer or a double with at most {scale} decimal places"
    return why_invalid(kind)


def stored_sql(kind: Kind, c: str, scale: int | None) -> str:
    """PostgreSQL expression for stored column `c` whose binary COPY TO output is what was sent: the
    column itself, except SCALED, sent as the integer value * 10**s."""
    return f"({c} * {10 ** scale})::int8" if kind is Kind.SCALED else c


def _exact_double(c: str) -> str:
    return f"(typeof({c}) = 'real' OR (typeof({c}) = 'integer' AND abs({c}) <= {_MAX_EXACT_INTEGER}))"


def temporal_valid_sql(kind: Kind, c: str) -> str:
    """SQLite condition: the text in `c` is a date, time, timestamp or UUID that PostgreSQL stores exactly,
    written as PostgreSQL reads it. Checked for every value before a column is given such a type
    (plan.py); `native` then only computes. A date or time is checked by a round trip through SQLite's
    day number, which takes only its own formats and rolls Feb 30 over into March (SQLite's date() alone
    gives Feb 30 back as written); year 0 does not exist in PostgreSQL's calendar. (substr, not a comparison
    with the column: a DATE column's NUMERIC affinity would turn a literal '0001' into the number 1.)"""
    if kind is Kind.UUID:
        return f"(typeof({c}) = 'text' AND ({c} GLOB '{_UUID_GLOBS[0]}' OR {c} GLOB '{_UUID_GLOBS[1]}'))"
    if kind is Kind.DATE:
        return f"(typeof({c}) = 'text' AND date(julianday({c})) IS {c} AND substr({c}, 1, 4) <> '0000')"
    whole, rest = (19, 20) if kind is Kind.TIMESTAMP else (8, 9)
    head = f"substr({c}, 1, {whole})"
    fraction = (f"(length({c}) = {whole} OR (substr({c}, {rest}, 1) = '.' AND length({c}) BETWEEN {whole + 2} "
                f"AND {whole + 7} AND NOT substr({c}, {rest + 1}) GLOB '*[^0-9]*'))")
    if kind is Kind.TIMESTAMP:
        same = f"datetime(julianday({head})) IS replace({head}, 'T', ' ') AND substr({c}, 1, 4) <> '0000'"
    else:
        same = f"time(julianday('2000-01-01 ' || {head})) IS {head}"
    return f"(typeof({c}) = 'text' AND {same} AND {fraction})"


def native(kind: Kind, c: str, pg_type: str, precision: int | None = None, scale: int | None = None) -> Field:
    """Convert mode: the value as its column's own PostgreSQL type."""
    if kind is Kind.INTEGER:  # as it is: psycopg's integer encoders refuse a text, a double or bytes
        return Field(c, "int2" if pg_type == "smallint" else "int8")
    if kind is Kind.REAL:  # psycopg's double encoder takes an integer too, so a large one must not reach it
        big = f"{c} > {_MAX_EXACT_INTEGER} OR {c} < -{_MAX_EXACT_INTEGER}"  # typeof only for those (texts too)
        return Field(f"CASE WHEN {big} THEN iif(typeof({c}) = 'integer', {NOT_A_NUMBER}, {c}) ELSE {c} END", "float8")
    if kind is Kind.NUMERIC:
        return Field(_numeric_sql(c, precision, scale), "numeric", _numeric_converter(precision, scale, Decimal))
    if kind is Kind.SCALED:
        factor = 10 ** scale
        return Field(f"CASE WHEN {c} IS NULL THEN NULL WHEN {_scaled_misfit(c, precision, scale)} THEN "
                     f"{NOT_A_NUMBER} ELSE CAST(round({c} * {factor}) AS INTEGER) END", "int8")
    if kind in (Kind.TEXT, Kind.JSON, Kind.STRICT_TEXT):
        return as_text(kind, c)
    if kind is Kind.BLOB:
        return Field(f"CASE typeof({c}) WHEN 'blob' THEN {c} WHEN 'text' THEN CAST({c} AS BLOB) WHEN 'null' THEN NULL "
                     f"ELSE {NOT_BYTES} END", "bytea")
    if kind is Kind.BOOLEAN:  # boolrecv reads one byte, nonzero meaning true
        return Field(f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} = 0 THEN X'00' WHEN {c} = 1 THEN X'01' "
                     f"ELSE {NOT_BYTES} END", "bytea")
    if kind is Kind.UUID:
        return Field(f"replace({c}, '-', '')", "bytea", _uuid_bytes)
    # The plan checked every value (temporal_valid_sql), so these only compute.
    if kind is Kind.DATE:  # days since 2000-01-01; julianday of a midnight is exact (n + 0.5)
        return Field(f"CAST(julianday({c}) - 2451544.5 AS INTEGER)", "int4")
    # Microseconds since 2000-01-01 (or since midnight): whole seconds by SQLite, the fraction by its digits.
    seconds = f"substr({c}, 1, 19)" if kind is Kind.TIMESTAMP else f"'2000-01-01 ' || substr({c}, 1, 8)"
    fraction = f"CAST(substr(substr({c}, {21 if kind is Kind.TIMESTAMP else 10}) || '000000', 1, 6) AS INTEGER)"
    return Field(f"(CAST(strftime('%s', {seconds}) AS INTEGER) - {_EPOCH_2000}) * 1000000 + {fraction}", "int8")


def as_text(kind: Kind, c: str, precision: int | None = None, scale: int | None = None) -> Field:
    """Existing mode (and text columns in convert mode): the value as text that PostgreSQL's input
    function for the target's type reads back to the same value, as UTF-8 bytes."""
    if kind in (Kind.TEXT, Kind.JSON):
        return Field(f"CASE typeof({c}) WHEN 'text' THEN CAST({c} AS BLOB) WHEN 'null' THEN NULL "
                     f"WHEN 'integer' THEN CAST(CAST({c} AS TEXT) AS BLOB) WHEN 'real' THEN CAST("
                     f"CASE WHEN CAST(printf('%!.15g', {c}) AS REAL) = {c} THEN printf('%!.15g', {c}) "
                     f"ELSE printf('%!.20e', {c}) END AS BLOB) ELSE {NOT_BYTES} END", "bytea")
    if kind is Kind.STRICT_TEXT:
        return Field(f"CASE typeof({c}) WHEN 'text' THEN CAST({c} AS BLOB) WHEN 'null' THEN NULL ELSE {NOT_BYTES} END",
                     "bytea")
    if kind is Kind.INTEGER:
        return Field(f"CASE typeof({c}) WHEN 'integer' THEN CAST(CAST({c} AS TEXT) AS BLOB) WHEN 'null' THEN NULL "
                     f"ELSE {NOT_BYTES} END", "bytea")
    if kind is Kind.REAL:  # hexadecimal floating point is exact both ways; float8in reads it through strtod
        return Field(f"iif({c} IS NULL OR {_exact_double(c)}, {c}, X'')", "bytea", _hex_float)
    if kind is Kind.NUMERIC:
        return Field(_numeric_sql(c, precision, scale), "bytea", _numeric_converter(precision, scale, _decimal_text))
    if kind is Kind.BLOB:
        return Field(f"CASE WHEN typeof({c}) IN ('blob', 'text') THEN CAST('\\x' || lower(hex({c})) AS BLOB) "
                     f"WHEN {c} IS NULL THEN NULL ELSE {NOT_BYTES} END", "bytea")
    if kind is Kind.BOOLEAN:
        return Field(f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} = 0 THEN X'66' WHEN {c} = 1 THEN X'74' "
                     f"ELSE {NOT_BYTES} END", "bytea")
    raise ValueError(f"{kind} is sent in its own type")


class Unrepresentable(Exception):
    """Raised by a Python step; the loader turns it into UnrepresentableValue with table and rowid."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def _numeric_sql(c: str, precision: int | None, scale: int | None) -> str:
    """The common case rendered by SQLite: a double (or an integer) within the precision that, written
    with exactly `scale` places, reads back as itself, is that text as bytes; zero (which may be -0.0)
    and everything else reach Python as they are (a blob as the empty marker). Only up to 15 digits,
    where SQLite's printf and its text-to-double are exact, and two such decimals never share a double."""
    raw = f"CASE WHEN typeof({c}) = 'blob' THEN X'' ELSE {c} END"
    if scale is None or precision is None or precision > 15:
        return raw
    fast, limit = f"printf('%.{scale}f', {c})", 10 ** (precision - scale)
    return (f"CASE WHEN typeof({c}) = 'real' AND {c} <> 0 AND abs({c}) < {limit} AND CAST({fast} AS REAL) = {c} "
            f"THEN CAST({fast} AS BLOB) WHEN typeof({c}) = 'integer' AND abs({c}) < {limit} THEN CAST({fast} AS BLOB) "
            f"ELSE {raw} END")


# A decimal number written out, as an app may keep one in a text column ('12.50', '-3', '1e5').
_DECIMAL_TEXT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _numeric_converter(precision: int | None, scale: int | None, finish: Callable[[Decimal], object]):
    """value -> what is sent for a numeric(precision, scale): `finish` of the exact Decimal."""
    def convert(value):
        if value.__class__ is bytes and value:  # rendered by SQLite with exactly `scale` places
            return finish(Decimal(value.decode()))
        if value is None:
            return None
        return finish(_exact_decimal(value, precision, scale))
    return convert


def _exact_decimal(value, precision: int | None, scale: int | None) -> Decimal:
    if value.__class__ is str:
        if not _DECIMAL_TEXT.fullmatch(value):
            raise Unrepresentable(why_invalid(Kind.NUMERIC))
        number = Decimal(value)
    elif value.__class__ is bytes:
        raise Unrepresentable(why_invalid(Kind.NUMERIC))
    else:
        number = Decimal(value) if value.__class__ is int else Decimal(repr(value))
    if number.is_zero():
        number = number.copy_abs()  # PostgreSQL's numeric has no negative zero
    if scale is None:
        return Decimal(format(number, "f"))  # written out: no exponent, as numeric stores it
    if round(number, scale) != number:
        raise Unrepresentable(f"has more than {scale} decimal places")
    if precision is not None and abs(number) >= Decimal(10) ** (precision - scale):
        raise Unrepresentable(f"has more than {precision - scale} digits before the decimal point")
    return number.quantize(Decimal(1).scaleb(-scale))


def _decimal_text(number: Decimal) -> bytes:
    return format(number, "f").encode()


def _hex_float(value) -> bytes | None:
    if value.__class__ is float:
        return value.hex().encode()
    if value is None:
        return None
    if value.__class__ is int:  # SQL let it through only if a double holds it exactly
        return float(value).hex().encode()
    raise Unrepresentable(why_invalid(Kind.REAL))


def _uuid_bytes(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        raise Unrepresentable(why_invalid(Kind.UUID)) from None
