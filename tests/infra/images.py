"""Images built here, since nothing can come from Docker Hub: a Debian bookworm base made with
`debootstrap` and imported into the test dockerd, and images built on it from a Dockerfile (the Oscar
shop of tests/images/oscar/, the operator of the repository's Dockerfile), pushed to a test registry.

Both are cached per machine under ${XDG_CACHE_HOME:-~/.cache}/appmod/images/: the base as the root
filesystem's tarball, a built image as `docker save` output keyed by a hash of everything that goes
into it, so a warm machine imports or loads instead of building (dockerd's data root is new each run).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from pathlib import Path

from tests.infra import process
from tests.infra.part import Part, which

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "appmod" / "images"
REPOSITORY = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
# The base's packages: Python (with venv, which Debian splits off) and the CA bundle.
PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_NAME = "appmod-test/debian:bookworm"
KEEP_BUILDS = 2  # cached builds kept per image; older ones are removed


class BaseImage(Part):
    name = "base-image"
    how_to_get = "apt-get install debootstrap (run as root)"

    def __init__(self, root, dockerd):
        super().__init__(root)
        self.dockerd = dockerd

    def missing(self) -> str | None:
        if command := which("debootstrap", "tar"):
            return f"{command} is not on PATH"
        return None

    def start(self) -> None:
        self.fresh_dir()
        tarball = CACHE / f"debian-{SUITE}-{_digest(' '.join(PACKAGES).encode())[:12]}.tar"
        if not tarball.exists():
            _debootstrap(tarball, self.dir / "debootstrap.log")
        self.dockerd.client().api.import_image_from_file(str(tarball), repository=BASE_NAME.split(":")[0], tag=SUITE)
        self.reference = BASE_NAME
        self.key = tarball.name  # what an image built on this base depends on


class BuiltImage(Part):
    """An image built from `dockerfile` with `files` (context path -> repository path) on the base, then
    pushed to `target`'s registry as `repository:tag`; `reference` is the pushed image by digest."""

    dockerfile = ""
    files: dict[str, str] = {}
    repository = ""
    tag = "latest"

    def __init__(self, root, dockerd, base: BaseImage, target):
        super().__init__(root)
        self.dockerd, self.base, self.target = dockerd, base, target

    def start(self) -> None:
        self.fresh_dir()
        context = self._context()
        key = _digest(self.base.key.encode() + b"".join(
            p.relative_to(context).as_posix().encode() + p.read_bytes() for p in sorted(context.rglob("*"))
            if p.is_file()))[:16]
        client = self.dockerd.client()
        cached = CACHE / f"{self.name}-{key}.tar"
        local = f"{self.repository}:{self.tag}"
        if cached.exists():
            with open(cached, "rb") as f:
                client.images.load(f)
        else:
            self._build(client, context, local)
            _save(client, local, cached)
            _prune(self.name, keep=cached)
        shutil.rmtree(context, ignore_errors=True)
        self.reference = self._push(client, local)

    def _context(self) -> Path:
        context = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.dir))
        for inside, source in {"Dockerfile": self.dockerfile, **self.files}.items():
            path = REPOSITORY / source
            if path.is_dir():
                shutil.copytree(path, context / inside, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                (context / inside).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, context / inside)
        return context

    def wheels(self, into: Path) -> None:
        """Fills `into` with the wheels the image's pip installs: the host's pip fetches them, and builds
        those PyPI has as source only (django-haystack) as it would for the host."""
        raise NotImplementedError

    def _build(self, client, context: Path, local: str) -> None:
        """A build on the host's network (dockerd has no bridge) whose pip installs from a wheelhouse the
        host's pip filled and a loopback HTTP server serves: the package index is the host's to reach
        (through whatever proxy and CA the host trusts), and no certificate or wheel lands in a layer."""
        log = self.dir / "build.log"
        wheelhouse = self.dir / "wheels"
        wheelhouse.mkdir()
        self.wheels(wheelhouse)
        with _served(wheelhouse) as url, open(log, "w", buffering=1) as out:
            arguments = {"BASE": self.base.reference, "PIP_FIND_LINKS": url, "PIP_NO_INDEX": "1"}
            for line in client.api.build(path=str(context), tag=local, buildargs=arguments, network_mode="host",
                                         rm=True, forcerm=True, decode=True):
                out.write(line.get("stream") or line.get("status") or "")
                if "error" in line:
                    raise RuntimeError(f"building {self.name} failed: {line['error']}{process.tail(log)}")

    def _push(self, client, local: str) -> str:
        remote = f"{self.target.host}/{self.repository}"
        client.images.get(local).tag(remote, self.tag)
        digest = None
        for line in client.api.push(remote, tag=self.tag, auth_config=self.target_auth(), stream=True, decode=True):
            if "error" in line:
                raise RuntimeError(f"pushing {remote}:{self.tag} failed: {line['error']}")
            digest = (line.get("aux") or {}).get("Digest") or digest
        return f"{remote}@{digest}"

    def target_auth(self) -> dict | None:
        user = getattr(self.target, "user", None)
        return {"username": user, "password": self.target.password} if user else None


class OscarImage(BuiltImage):
    """The Django Oscar sandbox shop (tests/images/oscar/), as `oscarcommerce/django-oscar-sandbox:latest`
    on the Docker Hub stand-in. Its shop database comes from the fill command of tests/django/oscar_site."""

    name = "oscar-image"
    dockerfile = "tests/images/oscar/Dockerfile"
    files = {"sandbox": "tests/images/oscar/sandbox", "tests/__init__.py": "tests/__init__.py",
             "tests/django/__init__.py": "tests/django/__init__.py",
             "tests/django/database.py": "tests/django/database.py",
             "tests/django/oscar_site": "tests/django/oscar_site", "tests/django/dump": "tests/django/dump"}
    repository = "oscarcommerce/django-oscar-sandbox"
    # The versions the tests' Oscar shop pins (pyproject.toml, sorl-thumbnail being its thumbnailer),
    # PostgreSQL's driver, a WSGI server, and whitenoise to serve the static files with DEBUG off (the
    # sandbox's uWSGI maps them itself).
    requirements = ("django-oscar==4.2.1", "Django~=5.2.19", "sorl-thumbnail==12.11.0", "psycopg[binary]>=3.2,<3.4",
                    "gunicorn>=23,<24", "whitenoise>=6.7,<7")

    def wheels(self, into: Path) -> None:
        _pip("wheel", "--wheel-dir", str(into), *self.requirements, log=self.dir / "pip.log")


class OperatorImage(BuiltImage):
    """The operator's own image (the repository's Dockerfile), on the source registry: what
    APPMOD_OPERATOR_IMAGE names for the Fargate data runner."""

    name = "operator-image"
    dockerfile = "Dockerfile"
    files = {"pyproject.toml": "pyproject.toml", "README.md": "README.md", "operator": "operator"}
    repository = "appmod/operator"
    tag = "test"

    def wheels(self, into: Path) -> None:
        """The package, what it depends on, and what its build needs (the Dockerfile builds it again)."""
        build = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["build-system"]["requires"]
        _pip("wheel", "--wheel-dir", str(into), str(REPOSITORY), *build, log=self.dir / "pip.log")


def _pip(*args: str, log: Path) -> None:
    with open(log, "a") as out:
        subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], stdout=out,
                       stderr=subprocess.STDOUT, check=True)


@contextlib.contextmanager
def _served(folder: Path):
    """`folder` over HTTP on 127.0.0.1 (a directory listing is a page of links pip's --find-links reads)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


def _debootstrap(tarball: Path, log: Path) -> None:
    """bookworm's minimal base with PACKAGES, from the archive this machine's apt uses, as a tarball."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="appmod-debootstrap-") as work, open(log, "w") as out:
        rootfs = Path(work) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs),
                        *filter(None, [_archive()])], stdout=out, stderr=subprocess.STDOUT, check=True)
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


def _archive() -> str | None:
    """The Debian archive of this machine's apt sources (debootstrap's own default otherwise)."""
    sources = [*Path("/etc/apt").glob("sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        for line in path.read_text(errors="replace").splitlines():
            words = line.split()
            uris = words[1:] if words[:1] == ["URIs:"] else [w for w in words[1:2] if words[:1] == ["deb"]]
            for uri in uris:
                if uri.rstrip("/").endswith("/debian"):
                    return uri
    return None


def _save(client, local: str, cached: Path) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    with open(partial, "wb") as out:
        for chunk in client.images.get(local).save(named=True):
            out.write(chunk)
    partial.rename(cached)


def _prune(name: str, keep: Path) -> None:
    builds = sorted(CACHE.glob(f"{name}-*.tar"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [b for b in builds if b != keep][KEEP_BUILDS - 1:]:
        old.unlink(missing_ok=True)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
