"""PostgreSQL (Debian's server) on 127.0.0.1 with a password-protected superuser; the Aurora stand-in.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user via setpriv.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.infra import process
from tests.infra.part import Part

SUPERUSER = "postgres"


def _bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


class Postgres(Part):
    name = "postgres"
    how_to_get = "apt-get install postgresql"

    def missing(self) -> str | None:
        if _bindir() is None:
            return "no initdb (PostgreSQL server) found"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg (3) is not installed"
        return None

    def start(self) -> None:
        self.fresh_dir()
        # A folder of its own outside the (root-only) test folder, owned by the server's user.
        self.data = Path(tempfile.mkdtemp(prefix="appmod-postgres-"))
        self.password = os.urandom(16).hex()
        (self.data / "pwfile").write_text(self.password + "\n")
        as_user = self._as_postgres()
        bindir = _bindir()
        initdb = subprocess.run([
            *as_user, f"{bindir}/initdb", "-D", str(self.data / "data"), "-U", SUPERUSER, "-A", "scram-sha-256",
            f"--pwfile={self.data / 'pwfile'}", "-E", "UTF8", "--locale=C.UTF-8",
        ], capture_output=True, text=True)
        if initdb.returncode:
            raise RuntimeError(f"initdb failed: {initdb.stderr.strip()}")
        self.port = process.free_port()
        self._serve()

    def _serve(self) -> None:
        self._proc = self.spawn([
            *self._as_postgres(), f"{_bindir()}/postgres", "-D", str(self.data / "data"), "-h", "127.0.0.1",
            "-p", str(self.port), "-k", str(self.data), "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200",
        ], "postgres.log")
        process.wait_until(self._ready, "postgres", 60, self._proc, self.dir / "postgres.log")

    def restart(self) -> None:
        """A fast shutdown (every connection cut, as a failover does) and a start on the same data and port;
        returns once it accepts connections again. tests/e2e/test_crashes.py restarts it mid data copy."""
        self.stop_one(self._proc)
        self._serve()

    def stop(self) -> None:
        super().stop()
        if getattr(self, "data", None):
            shutil.rmtree(self.data, ignore_errors=True)

    def _as_postgres(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        for path in (self.data, self.data / "pwfile"):
            shutil.chown(path, "postgres", "postgres")
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _ready(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url(), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def create_database(self, template: str | None = None) -> str:
        """A fresh database, empty or a copy of the database at URL `template` (which nobody may be
        connected to); returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        self._admin(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def make_master(self, user: str, password: str, database: str) -> None:
        """What Aurora makes with a cluster: the master user with the operator's password, owning the
        cluster's first database (made if absent; its public schema too, as PostgreSQL 15 asks)."""
        import psycopg

        exists = self._admin("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
        self._admin(f'{"ALTER" if exists else "CREATE"} ROLE "{user}" LOGIN PASSWORD %s', (password,))
        if not self._admin("SELECT 1 FROM pg_database WHERE datname = %s", (database,)):
            self._admin(f'CREATE DATABASE "{database}"')
        self._admin(f'ALTER DATABASE "{database}" OWNER TO "{user}"')
        with psycopg.connect(self.url(database)) as conn, conn.cursor() as cur:  # committed and closed at exit
            cur.execute(f'ALTER SCHEMA public OWNER TO "{user}"')

    def _admin(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        # Client-side binding: the parameters of CREATE/ALTER ROLE ... PASSWORD %s are literals in the
        # statement, which PostgreSQL cannot take as server-side parameters ($1) in a utility statement.
        conn = psycopg.connect(self.url(), cursor_factory=psycopg.ClientCursor)
        conn.autocommit = True
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def env(self) -> dict[str, str]:
        return {"APPMOD_DATABASE_HOST": f"127.0.0.1:{self.port}", "APPMOD_TEST_POSTGRES_URL": self.url()}
