"""The benchmark's `wide_text` shape: few rows, several long text columns each, about 2.9 KB of text a row.

`build(path, rows, seed)` writes two tables whose row counts sum to exactly `rows` (20% `documents`, 80%
`comments`; 20,000 rows, about 58 MB of text in a 70 MB file, by default):

- `documents`: `id INTEGER PRIMARY KEY`, `title TEXT NOT NULL` (20-120 characters), `summary TEXT` (200-800),
  `body TEXT NOT NULL` (1,500-8,000), `metadata TEXT` (JSON of 100-1,000, with escaped quotes and backslashes),
  `updated_at DATETIME NOT NULL`;
- `comments`: `id INTEGER PRIMARY KEY`, `document_id INTEGER NOT NULL REFERENCES documents(id)` (indexed),
  `author TEXT NOT NULL`, `body TEXT NOT NULL` (200-2,500), `quote TEXT` (half NULL, else 100-1,500),
  `user_agent TEXT`.

The text is words drawn from a vocabulary of many scripts (Latin with accents and combining marks, Cyrillic,
Greek, Hebrew, Arabic, CJK, Hangul, Devanagari, Thai, emoji with ZWJ sequences) and of what COPY must escape
or leave alone: tabs, newlines, carriage returns, backslashes (`C:\\path`, a literal `\\N` and `\\.`), quotes,
backspace, form feed, vertical tab, ESC, DEL, NBSP, BOM, U+2028. No NUL, no lone surrogate: every value is text
PostgreSQL can hold, so pgloader loads every row. Its default size is what pgloader 3.6.9 survives with its
defaults (it prefetches up to 100,000 rows of a table, as 32-bit characters): measured, 20,000 rows peak at
0.5 GB, 30,000 at 0.8 GB, and 50,000 end in SBCL's "Heap exhausted, game over".

Deterministic: the same (rows, seed) gives the same file. Called by shapes.py; standard library and
fixture_common.py only.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks import fixture_common

DEFAULT_ROWS = 20_000
TABLES = ("documents", "comments")
WEIGHTS = {"documents": 20, "comments": 80}

SCHEMA = """
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    summary TEXT,
    body TEXT NOT NULL,
    metadata TEXT,
    updated_at DATETIME NOT NULL
);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    quote TEXT,
    user_agent TEXT
);
"""

INDEXES = "CREATE INDEX comments_document_id_idx ON comments(document_id);"

# (word, weight): plain words dominate, the awkward ones turn up in most long values.
_WORDS = [(w, 40) for w in (
    "the", "of", "and", "order", "customer", "delivery", "invoice", "product", "review", "shipping", "stock",
    "price", "payment", "refund", "account", "address", "warehouse", "quality", "service", "package", "update",
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "tempor")]
_WORDS += [(w, 8) for w in (
    "café", "naïve", "façade", "Zoë", "Ærøskøbing", "Łódź", "Dvořák", "Straße", "e\u0301", "n\u0303o",
    "Привет", "данные", "Ελλάδα", "λόγος", "שלום", "עולם", "مرحبا", "العربية", "日本語", "漢字", "中文字符",
    "한국어", "हिन्दी", "ภาษาไทย", "🙂", "🎉", "👩\u200d💻", "👨\u200d👩\u200d👧", "🇫🇷", "∑∫√", "½¾", "™©®")]
_WORDS += [(w, 3) for w in (
    "\t", "\n", "\r\n", "\r", "\\", "C:\\Users\\app\\data", "\\N", "\\.", "\\\\server\\share", "\\t", "\\n",
    "'single'", '"double"', "`tick`", "\x08", "\x0c", "\x0b", "\x1b[0m", "\x7f", "\u00a0", "\ufeff", "\u2028",
    "a|b", "50%", "under_score", "<b>html</b>", "&amp;", "{json: 1}", "--", "/*x*/", ";")]
_VOCABULARY = [w for w, _ in _WORDS]
_CUMULATIVE = list(itertools.accumulate(weight for _, weight in _WORDS))
_MEAN_WORD = sum(len(w) * n for w, n in _WORDS) / _CUMULATIVE[-1] + 1  # characters, with the space after it
_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
           "curl/7.88.1", "python-requests/2.31.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Firefox/121.0")
_EPOCH = datetime(2005, 1, 1)


def build(path: str | Path, rows: int = DEFAULT_ROWS, seed: int | str = fixture_common.DEFAULT_SEED, *,
          overwrite: bool = False) -> dict[str, int]:
    """Write the database to `path` and return the row count of each table."""
    counts = fixture_common.shares(rows, WEIGHTS, at_least_one=("documents",))
    rng = random.Random(f"wide_text-{seed}")
    with fixture_common.new_database(path, SCHEMA, overwrite=overwrite) as conn:
        fixture_common.insert(conn, "documents", (_document(rng, i) for i in range(1, counts["documents"] + 1)), 6)
        fixture_common.insert(conn, "comments", (_comment(rng, i, counts["documents"])
                                                 for i in range(1, counts["comments"] + 1)), 6)
        conn.executescript(INDEXES)
    return counts


def text(rng: random.Random, low: int, high: int) -> str:
    """About `low` to `high` characters of words from the vocabulary, space-separated."""
    k = max(1, int(rng.randint(low, high) / _MEAN_WORD))
    return " ".join(rng.choices(_VOCABULARY, cum_weights=_CUMULATIVE, k=k))


def _document(rng: random.Random, i: int) -> tuple:
    metadata = None if rng.random() < 0.1 else json.dumps(
        {"id": i, "tags": rng.choices(_VOCABULARY, cum_weights=_CUMULATIVE, k=rng.randint(1, 8)),
         "path": f"C:\\docs\\{i}\\\"draft\"", "note": text(rng, 50, 700)}, ensure_ascii=rng.random() < 0.3)
    updated = _EPOCH + timedelta(seconds=rng.randrange(20 * 365 * 86400))
    return (i, text(rng, 20, 120), None if rng.random() < 0.2 else text(rng, 200, 800), text(rng, 1500, 8000),
            metadata, updated.isoformat(" "))


def _comment(rng: random.Random, i: int, documents: int) -> tuple:
    return (i, rng.randint(1, documents), text(rng, 5, 40), text(rng, 200, 2500),
            None if rng.random() < 0.5 else text(rng, 100, 1500), None if rng.random() < 0.1 else rng.choice(_AGENTS))
