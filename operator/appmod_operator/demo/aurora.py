"""The Aurora stand-in: what Aurora does with a new cluster and moto's RDS does not. A background thread
looks at moto every POLL_SECONDS and, for every RDS cluster it reports with our owner tag, makes the
cluster's master user and database exist in the demo's PostgreSQL (demo/postgres.py), with the password
the cluster was created with.

moto keeps no master password that can be read back, so it is taken from where the operator puts it:
the resource's Secrets Manager secret (names.Owner.secret_name, found from the cluster's
`appmod.io/owner` tag; reconcile/credentials.py writes it). As the test infrastructure's stand-in does:
the master user is a role with LOGIN and that PASSWORD (sent as its SCRAM verifier, so the password
itself never reaches the server or its log), made or altered; the cluster's database is made if absent
and owned by it, and so is its `public` schema; a new secret version with another password alters the
role again. LOGIN comes last, so that no one logs in to a database that is not yet the user's. Two
clusters with one master user name share the role: the newest password wins. This module never logs a
password, nor an error text that could hold one.

What it does not do: no endpoint DNS (moto's cluster endpoint resolves nowhere; the operator is pointed
at the server with APPMOD_DATABASE_HOST), no auto-pause or scaling, no snapshots, and nothing when a
cluster is deleted (its database and role stay). Stop it before the emulator: a pass against a stopped
moto waits out botocore's retries.

Reads AWS through aws/rds.py and aws/secrets.py. Called by demo/run.py; tests/unit/test_demo_parts.py.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from appmod_operator.aws import clients, rds, secrets
from appmod_operator.demo.postgres import SUPERUSER, Server
from appmod_operator.errors import AwsError
from appmod_operator.names import OWNER_TAG, UID_TAG, Owner

POLL_SECONDS = 0.5
CURRENT = "AWSCURRENT"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Master:
    """A cluster's master user and database, as made in the server."""

    region: str | None
    cluster: str
    username: str
    database: str


class Aurora:
    """The stand-in's thread; `sync()` is one pass, which the thread repeats until `stop()`. `on_made` is
    called in that thread with each master user made or given a new password (a progress display's hook);
    it must not raise."""

    def __init__(self, server: Server, regions: Sequence[str | None] = (None,), poll_seconds: float = POLL_SECONDS,
                 on_made: Callable[[Master], None] | None = None):
        self.server, self.regions, self.poll_seconds, self.on_made = server, tuple(regions), poll_seconds, on_made
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aurora stand-in", daemon=True)
        # (region, cluster) -> (secret version, Master, sha256 of the password): what the server has now.
        self._made: dict[tuple[str | None, str], tuple[str | None, Master, str]] = {}
        self._errors: dict[tuple[str | None, str], str] = {}
        self._lock = threading.RLock()  # one pass at a time, the thread's or a caller's

    def start(self) -> Aurora:
        """Starts the thread (once: a started stand-in used as a context manager is not started again)."""
        if self._thread.ident is None:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> Aurora:
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()

    def made(self) -> list[Master]:
        """The master users the server has, one per cluster."""
        with self._lock:
            return [master for _, master, _ in self._made.values()]

    def sync(self) -> list[Master]:
        """One look at every region's clusters; the masters made or changed by it."""
        with self._lock:
            return [m for region in self.regions for m in self._sync_region(region)]

    def _sync_region(self, region: str | None) -> list[Master]:
        try:
            clusters = rds.list_clusters(region)
        except AwsError as e:
            self._warn((region, ""), f"cannot list the clusters: {e}")
            return []
        return [m for m in (self._sync_cluster(region, cluster) for cluster in clusters) if m is not None]

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sync()
            self._stop.wait(self.poll_seconds)

    def _sync_cluster(self, region: str | None, cluster: dict) -> Master | None:
        key = (region, cluster["DBClusterIdentifier"])
        try:
            return self._ensure(key, cluster)
        except AwsError as e:
            self._warn(key, str(e))
        except psycopg.Error as e:  # the primary message only: never the statement, which holds the verifier
            self._warn(key, f"PostgreSQL: {type(e).__name__}: {e.diag.message_primary or 'no message'}")
        except (KeyError, ValueError, TypeError) as e:
            self._warn(key, f"its secret is not the operator's credentials JSON ({type(e).__name__})")
        return None

    def _ensure(self, key: tuple[str | None, str], cluster: dict) -> Master | None:
        region, identifier = key
        owner = owner_of(cluster)
        found = secrets.find_secret(region, owner.secret_name) if owner else None
        if owner is None or found is None or found.get("DeletedDate") or not owner.owns(
                clients.tag_dict(found.get("Tags"))):
            return None  # not the operator's, or no credentials yet: nothing Aurora could be told
        version = current_version(found)
        before = self._made.get(key)
        if before is not None and version is not None and before[0] == version:
            return None
        value = secrets.read_secret(region, found["ARN"])
        master = Master(region, identifier, cluster.get("MasterUsername") or value["username"],
                        cluster.get("DatabaseName") or value["dbname"])
        digest = hashlib.sha256(value["password"].encode()).hexdigest()
        if before is not None and before[1:] == (master, digest):
            self._made[key] = (version, master, digest)
            return None
        if master.username == SUPERUSER:
            self._warn(key, f"its master user is {SUPERUSER}, the server's own superuser: not changed")
            return None
        make_master(self.server, master.username, value["password"], master.database)
        self._made[key] = (version, master, digest)
        self._errors.pop(key, None)
        log.info("Aurora stand-in: cluster %s: master user %s %s, owning database %s", identifier, master.username,
                 "made" if before is None else "given the secret's new password", master.database)
        if self.on_made is not None:
            self.on_made(master)
        return master

    def _warn(self, key: tuple[str | None, str], message: str) -> None:
        if self._errors.get(key) != message:  # once per cause, not every half second
            self._errors[key] = message
            log.warning("Aurora stand-in: %s: %s", key[1] or f"region {key[0] or 'default'}", message)


def start(server: Server, regions: Sequence[str | None] = (None,), poll_seconds: float = POLL_SECONDS,
          on_made: Callable[[Master], None] | None = None) -> Aurora:
    """The stand-in, running; `regions` None is the configured default region."""
    return Aurora(server, regions, poll_seconds, on_made).start()


def owner_of(cluster: dict) -> Owner | None:
    """The resource that owns the cluster, from its tags; None for a cluster not tagged by the operator."""
    tags = clients.tag_dict(cluster.get("TagList"))
    namespace, _, name = (tags.get(OWNER_TAG) or "").partition("/")
    return Owner(namespace, name, tags.get(UID_TAG, "")) if namespace and name else None


def current_version(described: dict) -> str | None:
    """The secret's AWSCURRENT version id (DescribeSecret's VersionIdsToStages), None if not told."""
    stages = described.get("VersionIdsToStages") or {}
    return next((version for version, labels in stages.items() if CURRENT in labels), None)


def make_master(server: Server, username: str, password: str, database: str) -> None:
    """The master user with `password`, owning `database` (made if absent) and its public schema. The role
    can log in only once all that is done, as a cluster's master user only once the cluster is available."""
    role = sql.Identifier(username)
    with psycopg.connect(server.superuser_url(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), role))
        with psycopg.connect(server.superuser_url(), dbname=database, autocommit=True) as in_database:
            in_database.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(role))
        # What psql's \password sends: the SCRAM verifier, computed here, instead of the password.
        verifier = conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256").decode()
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(verifier)))
