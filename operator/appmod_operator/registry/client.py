"""A client of one registry's HTTP API v2 (the OCI distribution spec:
https://github.com/opencontainers/distribution-spec/blob/main/spec.md): manifests, blobs, uploads.

Authentication follows the registry's challenge: Basic (ECR, with the `AWS` user and the
authorization token), or Bearer tokens from the realm it names, anonymously or with the pull
secret's credentials (Docker Hub: https://distribution.github.io/distribution/spec/auth/token/).
Reads (GET, HEAD) are retried by urllib3 on connection errors and 5xx with backoff; an upload is
retried whole by the copy, since a half-sent body cannot be replayed. Errors come out in the user's
terms: errors.ImageNotFound, errors.RegistryAccessDenied (naming the source or ECR),
errors.RegistryError (worth retrying later). Credentials never appear in an error.
Called by copy.py and extract.py.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterable, Iterator
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from appmod_operator.errors import DigestMismatch, ImageNotFound, RegistryAccessDenied, RegistryError
from appmod_operator.registry import media
from appmod_operator.registry.media import Manifest

READ_RETRIES = Retry(total=5, connect=5, read=3, status=5, backoff_factor=0.2,
                     status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"GET", "HEAD"}),
                     raise_on_status=False, respect_retry_after_header=True)
TIMEOUT = (10, 120)  # connect, read (seconds between bytes)
CHUNK = 1 << 20  # bytes read from the source at a time
PART = 16 << 20  # bytes per PATCH of a chunked upload; blobs up to this size go in one PUT
TOKEN_MARGIN = 10  # seconds: a token this close to expiry is fetched again
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class Registry:
    """One registry host. `side` names it in errors ("the source registry", "ECR")."""

    def __init__(self, host: str, *, side: str, credentials: tuple[str, str] | None = None, insecure: bool = False,
                 trusted_realms: tuple[str, ...] = ()):
        self.host, self.side, self._credentials = host, side, credentials
        self._trusted_realms = trusted_realms  # token services on other hosts that may see the credentials
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=READ_RETRIES, pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._scheme: str | None = None  # "basic" or "bearer", learned from the first challenge
        self._challenge: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Registry({self.host!r}, side={self.side!r})"

    def credentials_dict(self) -> dict | None:
        """The credentials as a Docker engine takes them (the Docker backend pulls with them)."""
        return dict(zip(("username", "password"), self._credentials, strict=True)) if self._credentials else None

    def close(self) -> None:
        self.session.close()

    # Manifests

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        where = f"{self.host}/{repository}:{reference}" if not reference.startswith("sha256:") else (
            f"{self.host}/{repository}@{reference}")
        response = self._request("GET", repository, f"manifests/{reference}", headers={"Accept": media.ACCEPT},
                                 what=where)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        media.check_media_type(media_type, where)
        data = response.content
        digest = media.digest_of(data)
        if reference.startswith("sha256:") and digest != reference:
            raise DigestMismatch(f"{where}: the manifest served hashes to {digest}")
        return Manifest(data, media_type, digest)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest under `reference` (HEAD), or None when the registry has no such manifest."""
        response = self._request("HEAD", repository, f"manifests/{reference}", headers={"Accept": media.ACCEPT},
                                 missing_ok=True, what=f"{self.host}/{repository}:{reference}")
        return response.headers.get("Docker-Content-Digest") if response.status_code == 200 else None

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        """Pushes the exact bytes with their own media type, so the digest stays what it was."""
        response = self._request("PUT", repository, f"manifests/{reference}", push=True, data=manifest.data,
                                 headers={"Content-Type": manifest.media_type},
                                 what=f"{self.host}/{repository}:{reference}")
        served = response.headers.get("Docker-Content-Digest")
        if served and served != manifest.digest:
            raise RegistryError(f"{self.side} {self.host} stored {repository}:{reference} as {served}, "
                                f"not {manifest.digest}")

    # Blobs

    def blob_exists(self, repository: str, digest: str) -> bool:
        response = self._request("HEAD", repository, f"blobs/{digest}", push=True, missing_ok=True,
                                 what=f"{self.host}/{repository}@{digest}")
        return response.status_code == 200

    def read_blob(self, repository: str, digest: str) -> Iterator[bytes]:
        """The blob's bytes, streamed; the caller verifies the digest (copy.verified)."""
        response = self._request("GET", repository, f"blobs/{digest}", stream=True,
                                 what=f"{self.host}/{repository}@{digest}")
        with response:
            yield from response.iter_content(CHUNK)

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Cross-repository mount within this registry; False when the registry started an upload instead."""
        response = self._request("POST", repository, "blobs/uploads/", push=True, mount_from=from_repository,
                                 params={"mount": digest, "from": from_repository},
                                 what=f"{self.host}/{repository}@{digest}")
        if response.status_code == 201:
            return True
        self._cancel(repository, response)
        return False

    def upload_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        """Uploads a blob of `size` bytes: one PUT when it fits in a PART, else PATCHes of PART bytes then
        the closing PUT. Each body streams straight from `chunks` (memory holds one chunk, whatever the
        blob's size). `chunks` should raise before its end if the bytes are wrong: the closing PUT is
        then never sent, and the registry never commits the blob."""
        what = f"{self.host}/{repository}@{digest}"
        started = self._request("POST", repository, "blobs/uploads/", push=True, what=what)
        location, source = self._location(started), _Source(iter(chunks))
        octets = {"Content-Type": "application/octet-stream"}
        if size <= PART:
            self._request("PUT", repository, location, push=True, data=_Body(source, size, last=True),
                          params={"digest": digest}, headers=octets, what=what)
            return
        for offset in range(0, size, PART):
            length = min(PART, size - offset)
            response = self._request("PATCH", repository, location, push=True, data=_Body(source, length), what=what,
                                     headers={**octets, "Content-Range": f"{offset}-{offset + length - 1}"})
            location = self._location(response)
        source.finish()  # the digest check happens here, before the closing PUT commits the blob
        self._request("PUT", repository, location, push=True, params={"digest": digest}, data=b"", what=what)

    # Requests, authentication and errors

    def _request(self, method: str, repository: str, path: str, *, what: str, push: bool = False,
                 missing_ok: bool = False, mount_from: str | None = None, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else urljoin(f"{self.base}/v2/{repository}/", path)
        scopes = [f"repository:{repository}:pull,push" if push else f"repository:{repository}:pull"]
        if mount_from:
            scopes.append(f"repository:{mount_from}:pull")
        try:
            response = self._send(method, url, scopes, **kwargs)
            if response.status_code == 401:  # a token that expired early, or the first challenge
                self._learn(response)
                if isinstance(kwargs.get("data"), _Body):  # a streamed body cannot be sent twice
                    raise RegistryError(f"{self.side} {self.host} refused an upload's credentials midway; "
                                        "the next attempt starts it again")
                response = self._send(method, url, scopes, fresh=True, **kwargs)
        except requests.RequestException as e:
            raise RegistryError(f"{self.side} {self.host} could not be reached: {type(e).__name__}") from None
        if response.ok or (missing_ok and response.status_code == 404):
            return response
        raise self._error(response, what)

    def _send(self, method: str, url: str, scopes: list[str], fresh: bool = False, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        auth = self._authorization(scopes, fresh)
        if auth:
            headers["Authorization"] = auth
        return self.session.request(method, url, headers=headers, timeout=TIMEOUT, allow_redirects=True, **kwargs)

    def _learn(self, response: requests.Response) -> None:
        header = response.headers.get("WWW-Authenticate", "")
        scheme = header.split(" ", 1)[0].lower()
        if scheme not in ("basic", "bearer"):
            return
        with self._lock:
            self._scheme = scheme
            self._challenge = dict(_CHALLENGE.findall(header))

    def _authorization(self, scopes: list[str], fresh: bool) -> str | None:
        if self._scheme == "basic":
            if not self._credentials:
                return None
            return "Basic " + base64.b64encode(":".join(self._credentials).encode()).decode()
        if self._scheme != "bearer":
            return None
        key = " ".join(scopes)
        with self._lock:
            token, expires = self._tokens.get(key, (None, 0.0))
        if fresh or token is None or expires - TOKEN_MARGIN < time.monotonic():
            token, expires = self._fetch_token(scopes)
            with self._lock:
                self._tokens[key] = (token, expires)
        return f"Bearer {token}"

    def _fetch_token(self, scopes: list[str]) -> tuple[str, float]:
        realm = self._challenge.get("realm")
        if not realm:
            raise RegistryError(f"{self.side} {self.host} asked for a Bearer token without naming a realm")
        if self._credentials and not realm_trusted(self.host, realm, self._trusted_realms):
            raise RegistryAccessDenied(
                f"{self.side} {self.host} names the token service {urlsplit(realm).netloc}, on another host: the "
                "credentials are not sent there; list it in APPMOD_TOKEN_REALMS if it is the registry's own")
        params = [("service", self._challenge.get("service", ""))] + [("scope", s) for s in scopes]
        try:
            response = self.session.get(realm, params=params, auth=self._credentials, timeout=TIMEOUT)
        except requests.RequestException as e:
            raise RegistryError(f"the token service of {self.side} {self.host} could not be reached: "
                                f"{type(e).__name__}") from None
        if response.status_code in (401, 403):
            raise RegistryAccessDenied(f"access denied at {self.side} {self.host}: its token service refused "
                                       f"{'the pull secret' if self._credentials else 'anonymous access'}")
        if not response.ok:
            raise RegistryError(f"the token service of {self.side} {self.host} answered {response.status_code}")
        answer = response.json()
        # The spec's default lifetime is 60 s: https://distribution.github.io/distribution/spec/auth/token/
        return answer.get("token") or answer.get("access_token"), time.monotonic() + answer.get("expires_in", 60)

    def _error(self, response: requests.Response, what: str) -> Exception:
        detail = _registry_message(response)
        status = response.status_code
        if status in (401, 403):
            given = "with the credentials given" if self._credentials else "anonymously"
            return RegistryAccessDenied(f"access denied at {self.side} {self.host} for {what} ({given}): {detail}")
        if status == 404:
            return ImageNotFound(f"{what} was not found at {self.side} {self.host}: {detail}")
        return RegistryError(f"{self.side} {self.host} answered {status} for {what}: {detail}")

    def _location(self, response: requests.Response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.side} {self.host} started an upload without a Location")
        return urljoin(self.base, location)

    def _cancel(self, repository: str, response: requests.Response) -> None:
        """Ends an upload session we will not use; only tidiness, as registries expire abandoned ones."""
        if response.headers.get("Location"):
            self._request("DELETE", repository, self._location(response), push=True, missing_ok=True,
                          what=f"an unused upload to {repository}")


def realm_trusted(registry: str, realm: str, trusted: tuple[str, ...] = ()) -> bool:
    """Whether a Bearer challenge's realm may receive the registry's credentials: on the registry's own host
    (any port), on a host of its own domain (Docker Hub's registry-1.docker.io sends to auth.docker.io), or
    listed by the user (host or host:port). Anything else would hand a pull secret to whoever the registry,
    or a man in the middle of a plain-HTTP one, names."""
    where = urlsplit(realm)
    host = (where.hostname or "").lower()
    own = urlsplit(f"//{registry}").hostname or ""
    labels = own.split(".")
    domain = ".".join(labels[1:]) if len(labels) >= 3 and not own.replace(".", "").isdigit() else own
    return bool(host) and (host == own or host.endswith(f".{domain}") or host in trusted or where.netloc in trusted)


def _registry_message(response: requests.Response) -> str:
    """The registry's own words: the spec's {"errors": [{"code", "message"}]} body, else the status text."""
    try:
        errors = response.json().get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or response.reason
    except ValueError:
        return response.reason or str(response.status_code)


class _Source:
    """The chunks of one blob, handed out a body at a time (a chunk that straddles two bodies is split)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks, self._left = chunks, b""

    def take(self, length: int) -> Iterator[bytes]:
        while length > 0:
            chunk = self._left or next(self._chunks, b"")
            if not chunk:
                return  # short: the digest check raises when the caller finishes the source
            piece, self._left = chunk[:length], chunk[length:]
            length -= len(piece)
            yield piece

    def finish(self) -> None:
        """Reads past the last byte, so that a verifying iterator runs its end-of-blob check."""
        for _ in self._chunks:
            raise RegistryError("the source sent more bytes than the blob's size")


class _Body:
    """A request body of known length streamed from a _Source; having a length makes requests send a
    Content-Length instead of chunked transfer encoding, which registries' PATCH and PUT expect.
    The `last` body finishes the source, so a digest check fails the request rather than follow it."""

    def __init__(self, source: _Source, length: int, last: bool = False):
        self._source, self._length, self._last = source, length, last

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        yield from self._source.take(self._length)
        if self._last:
            self._source.finish()
