"""The demo's own image: a small "shop" whose SQLite database sits at /app/sandbox/db.sqlite, where the
Oscar sandbox keeps it, written as an OCI image layout (registry/layout.py) for the operator to copy.

The database is made with sqlite3 from a seeded random generator, so its rows are the same on every
run: categories, products (decimal prices, booleans, timestamps, text), product images (small BLOBs),
customers, orders and order lines, with declared FOREIGN KEYs and indexes, in Django's spelling of the
column types. DEMO_TABLES gives each table's row count, which the demo checks the migrated data by.
The image is one gzip layer (a tar with sorted entries, fixed mtimes, uid and gid 0; gzip mtime 0), an
OCI config (linux/amd64) and an OCI manifest; the same SQLite version gives the same digests.

Called by demo/run.py; tests/unit/test_demo_parts.py.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import sqlite3
import tarfile
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from appmod_operator.registry import media
from appmod_operator.registry.layout import Layouts
from appmod_operator.registry.media import Manifest

SQLITE_PATH = "app/sandbox/db.sqlite"  # in the image; spec.source.database.sqlite.pathInImage is /app/sandbox/...
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
SEED = 12
MTIME = 946684800  # 2000-01-01T00:00:00Z, every entry's
EPOCH = datetime(2024, 1, 1, 9, 0, 0)
CATEGORIES = ("Books", "Music", "Clothing", "Garden", "Kitchen", "Toys", "Sport", "Café & Tea", "Office",
              "Travel", "Health", "Électronique")
PRODUCTS, IMAGES, CUSTOMERS, ORDERS = 400, 200, 300, 600
LINES_PER_ORDER = 5  # order i has 1 + i % 5 lines
DEMO_TABLES: dict[str, int] = {
    "catalogue_category": len(CATEGORIES), "catalogue_product": PRODUCTS, "catalogue_productimage": IMAGES,
    "customer": CUSTOMERS, "order": ORDERS,
    "order_line": sum(1 + i % LINES_PER_ORDER for i in range(ORDERS)),
}

SCHEMA = """
CREATE TABLE "catalogue_category" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(128) NOT NULL,
  "slug" varchar(128) NOT NULL UNIQUE, "description" text NOT NULL);
CREATE TABLE "catalogue_product" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "category_id" bigint NOT NULL REFERENCES "catalogue_category" ("id") DEFERRABLE INITIALLY DEFERRED,
  "title" varchar(255) NOT NULL, "slug" varchar(255) NOT NULL UNIQUE, "price" decimal(12, 2) NOT NULL,
  "is_public" bool NOT NULL, "created" datetime NOT NULL, "description" text NOT NULL);
CREATE TABLE "catalogue_productimage" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "product_id" bigint NOT NULL REFERENCES "catalogue_product" ("id") DEFERRABLE INITIALLY DEFERRED,
  "caption" varchar(200) NOT NULL, "display_order" integer unsigned NOT NULL, "data" BLOB NOT NULL);
CREATE TABLE "customer" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "email" varchar(254) NOT NULL UNIQUE,
  "first_name" varchar(150) NOT NULL, "last_name" varchar(150) NOT NULL, "is_active" bool NOT NULL,
  "date_joined" datetime NOT NULL, "last_login" datetime NULL);
CREATE TABLE "order" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "number" varchar(32) NOT NULL UNIQUE,
  "customer_id" bigint NOT NULL REFERENCES "customer" ("id") DEFERRABLE INITIALLY DEFERRED,
  "status" varchar(32) NOT NULL, "placed" datetime NOT NULL, "total" decimal(12, 2) NOT NULL);
CREATE TABLE "order_line" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  "order_id" bigint NOT NULL REFERENCES "order" ("id") DEFERRABLE INITIALLY DEFERRED,
  "product_id" bigint NOT NULL REFERENCES "catalogue_product" ("id") DEFERRABLE INITIALLY DEFERRED,
  "quantity" integer unsigned NOT NULL, "unit_price" decimal(12, 2) NOT NULL, "line_price" decimal(12, 2) NOT NULL);
CREATE INDEX "catalogue_product_category_id" ON "catalogue_product" ("category_id");
CREATE INDEX "order_customer_id" ON "order" ("customer_id");
CREATE INDEX "order_line_order_id" ON "order_line" ("order_id");
"""


def build_demo_image(layout_root: Path, repository: str = "shop", tag: str = "latest") -> str:
    """Writes the image into the OCI image layout `layout_root/<repository>`, tagged `tag`; its manifest
    digest."""
    with tempfile.TemporaryDirectory(prefix="appmod-demo-") as scratch:
        database = Path(scratch) / "db.sqlite"
        write_shop_database(database)
        tar = layer_tar({SQLITE_PATH: database.read_bytes()})
    layer = gzip.compress(tar, compresslevel=6, mtime=0)
    config = _json({"architecture": "amd64", "os": "linux",
                    "config": {"Cmd": ["sleep", "infinity"], "WorkingDir": "/app",
                               "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
                    "rootfs": {"type": "layers", "diff_ids": [media.digest_of(tar)]},
                    "history": [{"created_by": "appmod demo: the shop's SQLite database"}]})
    manifest = _json({"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                      "config": _descriptor(CONFIG_TYPE, config), "layers": [_descriptor(LAYER_TYPE, layer)]})
    layouts = Layouts(layout_root, side="the demo's image layout")
    for blob in (layer, config):
        layouts.upload_blob(repository, media.digest_of(blob), len(blob), [blob])
    digest = media.digest_of(manifest)
    layouts.put_manifest(repository, tag, Manifest(manifest, media.OCI_MANIFEST, digest))
    return digest


def demo_tables() -> dict[str, int]:
    """Each table of the demo's database and its row count."""
    return dict(DEMO_TABLES)


def write_shop_database(path: Path) -> None:
    """The shop's SQLite database at `path` (which must not exist): DEMO_TABLES' rows, the same every run."""
    rng = random.Random(SEED)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(SCHEMA)
        with conn:  # one transaction
            _fill(conn, rng)
        if conn.execute("PRAGMA foreign_key_check").fetchall():
            raise RuntimeError("the demo's shop database breaks its own foreign keys")  # a bug in _fill
        conn.execute("VACUUM")
    finally:
        conn.close()


def _fill(conn: sqlite3.Connection, rng: random.Random) -> None:
    conn.executemany('INSERT INTO "catalogue_category" VALUES (?, ?, ?, ?)', [
        (i, name, f"category-{i}", f"Everything {name.lower()}, picked for the demo.")
        for i, name in enumerate(CATEGORIES, 1)])
    prices = {}
    for i in range(1, PRODUCTS + 1):
        prices[i] = _money(rng.uniform(1, 250))
        conn.execute('INSERT INTO "catalogue_product" VALUES (?, ?, ?, ?, ?, ?, ?, ?)', (
            i, rng.randint(1, len(CATEGORIES)), f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} №{i}",
            f"product-{i}", str(prices[i]), int(rng.random() < 0.9), _at(rng, 400),
            " ".join(rng.choices(WORDS, k=rng.randint(5, 60)))))
    conn.executemany('INSERT INTO "catalogue_productimage" VALUES (?, ?, ?, ?, ?)', [
        (i, rng.randint(1, PRODUCTS), f"Picture {i}", rng.randint(0, 3), rng.randbytes(rng.randint(64, 512)))
        for i in range(1, IMAGES + 1)])
    conn.executemany('INSERT INTO "customer" VALUES (?, ?, ?, ?, ?, ?, ?)', [
        (i, f"customer{i}@shop.example", rng.choice(FIRST), rng.choice(LAST), int(rng.random() < 0.95),
         _at(rng, 700), _at(rng, 30) if rng.random() < 0.7 else None)
        for i in range(1, CUSTOMERS + 1)])
    line = 0
    for i in range(1, ORDERS + 1):
        lines = []
        for _ in range(1 + (i - 1) % LINES_PER_ORDER):
            line, product, quantity = line + 1, rng.randint(1, PRODUCTS), rng.randint(1, 4)
            lines.append((line, i, product, quantity, str(prices[product]), str(prices[product] * quantity)))
        total = sum(Decimal(row[5]) for row in lines)
        conn.execute('INSERT INTO "order" VALUES (?, ?, ?, ?, ?, ?)', (
            i, f"SHOP-{100000 + i}", rng.randint(1, CUSTOMERS), rng.choice(STATUSES), _at(rng, 365), str(total)))
        conn.executemany('INSERT INTO "order_line" VALUES (?, ?, ?, ?, ?, ?)', lines)


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of `files` and their parent folders: sorted, fixed mtime, owned by 0:0."""
    folders = {"/".join(name.split("/")[:i]) for name in files for i in range(1, name.count("/") + 1)}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(folders | set(files)):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "root", "root"
            if name in files:
                info.size, info.mode = len(files[name]), 0o644
                tar.addfile(info, io.BytesIO(files[name]))
            else:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
    return raw.getvalue()


def _descriptor(media_type: str, blob: bytes) -> dict:
    return {"mediaType": media_type, "digest": media.digest_of(blob), "size": len(blob)}


def _json(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))


def _at(rng: random.Random, days: int) -> str:
    """A timestamp within `days` days after EPOCH, as Django's SQLite backend writes it."""
    return (EPOCH + timedelta(seconds=rng.randint(0, days * 86400), microseconds=rng.randint(0, 999999))).isoformat(" ")


ADJECTIVES = ("Blue", "Sturdy", "Tiny", "Vintage", "Smart", "Organic", "Crème", "Handmade", "Classic", "Swift")
NOUNS = ("Teapot", "Notebook", "Lamp", "Kettle", "Scarf", "Bicycle", "Puzzle", "Chair", "Guitar", "Umbrella")
WORDS = ("quality", "durable", "light", "made", "with", "care", "for", "every", "day", "use", "gift", "ideal",
         "naïve", "façade", "cœur", "über", "日本", "garden", "kitchen", "the", "and", "of")
FIRST = ("Ada", "Grace", "Linus", "Zoë", "Mateo", "Aiko", "Olu", "Søren", "Priya", "Élodie")
LAST = ("Lovelace", "Hopper", "Torvalds", "O'Brien", "García", "Tanaka", "Okafor", "Kierkegaard", "Patel", "Dubois")
STATUSES = ("Pending", "Being processed", "Shipped", "Complete", "Cancelled")
