"""A fault-injecting HTTP proxy on 127.0.0.1, in front of moto or a docker registry (issue 16, "Faults").

It forwards every request to its target, except a seeded fraction (drawn per operation, so that the nth
request of an operation meets the same fate in every run) that it answers itself with one fault:
- `throttle`: AWS's throttling error in the shape of the request's protocol (query/XML services such as
  RDS, IAM and EC2: `<ErrorResponse>` with Code `Throttling`; JSON services such as ECS, ECR, Secrets
  Manager and Logs: `__type` `ThrottlingException`), HTTP 400; for a registry 429 `TOOMANYREQUESTS`;
- `500`: AWS's `InternalFailure`, or a registry's `UNKNOWN`, HTTP 500;
- `drop`: the connection closed without an answer (nothing reaches the target);
- `slow`: an answer `slow_seconds` late (then forwarded);
- `lost` (not among the default kinds): forwarded, then the connection closed without passing the answer on:
  the target did the work and the client does not know, so a retried create meets its first success.
A rule (`Rule`) answers every request it matches with a terminal error of its own (AccessDenied,
InvalidParameterValue...), whatever the rate, so that tests can make AWS refuse one resource's request.

It counts, per AWS operation (the X-Amz-Target header, or the Action= form field; for a registry the method
and the kind of path), the requests seen, forwarded and faulted by kind, and keeps a short record of each
request so that a test can count one resource's calls. Used by tests/e2e/test_faults.py.
"""

from __future__ import annotations

import collections
import dataclasses
import http.client
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_plus, urlsplit

from tests.infra import process

KINDS = ("throttle", "500", "drop", "slow")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade",
              "content-length"}
RECORDED_BODY = 4096  # characters of a request's body kept for attribution (a blob upload is never needed whole)
REGISTRY_PATH = re.compile(r"^/v2/(?:.+/)?(manifests|blobs/uploads|blobs|tags)(?:/|$)")


@dataclass
class Rule:
    """Every request for `operation` whose (URL-decoded) body contains `contains` gets AWS's error `code`;
    with `lose`, it is forwarded and its answer lost instead. `times`: only that many requests match."""

    operation: str
    contains: str = ""
    code: str = ""
    message: str = ""
    status: int = 400
    lose: bool = False
    times: int | None = None

    def matches(self, operation: str, text: str) -> bool:
        if operation != self.operation or self.contains not in text or self.times == 0:
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it: its operation, what happened to it, its body's start (decoded)."""

    at: float
    operation: str
    outcome: str  # "forwarded", "slow" (forwarded late), or the fault's kind ("throttle", "500", "drop", "rule")
    text: str
    status: int  # the HTTP status answered (the target's when forwarded); 0 for no answer (or not yet)


class FaultProxy:
    """The proxy: `start()`, then point a client at `url`; `stop()` at the end. `rate` and `rules` may change
    while it runs. `registry=True` answers in a registry's words instead of AWS's."""

    def __init__(self, target: str, rate: float = 0.0, seed: int = 0, kinds: tuple[str, ...] = KINDS,
                 registry: bool = False, slow_seconds: float = 1.5):
        self.target = urlsplit(target).netloc
        self.rate, self.kinds, self.registry, self.slow_seconds = rate, kinds, registry, slow_seconds
        self.rules: list[Rule] = []
        self.seed = seed
        self._streams: dict[str, random.Random] = {}  # one seeded stream per operation (see _decide)
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        port = process.free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=f"fault-proxy-{port}", daemon=True).start()
        self.host, self.url = f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # --- the figures ---------------------------------------------------------------------------------------
    def mark(self) -> int:
        """A point in the record, for `since`."""
        with self._lock:
            return len(self.seen)

    def since(self, mark: int = 0) -> list[Seen]:
        with self._lock:
            return self.seen[mark:]

    def calls(self, mark: int = 0, containing: str | None = None) -> collections.Counter:
        """Requests per operation since `mark` (only those whose body mentions `containing`, if given)."""
        return collections.Counter(s.operation for s in self.since(mark) if containing is None or containing in s.text)

    def succeeded(self, mark: int = 0) -> collections.Counter:
        """Requests per operation that reached the target and got a 2xx from it: what AWS really did."""
        return collections.Counter(s.operation for s in self.since(mark)
                                   if s.outcome in ("forwarded", "slow", "lost") and 200 <= s.status < 300)

    def faults(self, mark: int = 0) -> collections.Counter:
        """Faults injected since `mark`, per kind (`slow` included: it was late, then forwarded)."""
        return collections.Counter(s.outcome for s in self.since(mark) if s.outcome != "forwarded")

    def faults_by_operation(self, mark: int = 0) -> dict[str, collections.Counter]:
        table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for s in self.since(mark):
            table[s.operation][s.outcome] += 1
        return dict(table)

    def report(self, title: str, mark: int = 0) -> str:
        """The per-operation table (seen, then each outcome), for the test's output."""
        rows = sorted(self.faults_by_operation(mark).items(), key=lambda kv: -sum(kv[1].values()))
        lines = [f"{title}: {len(self.since(mark))} requests, faults {dict(self.faults(mark))}"]
        lines += [f"  {op:<40} {sum(c.values()):>5}  {dict(c)}" for op, c in rows]
        return "\n".join(lines)

    # --- deciding ------------------------------------------------------------------------------------------
    def _decide(self, operation: str, text: str) -> tuple[str, Rule | None]:
        with self._lock:
            rule = next((r for r in self.rules if r.matches(operation, text)), None)
            if rule:
                return ("lost" if rule.lose else "rule"), rule
            # Per operation, so that the nth request of an operation meets the same fate in every run, however
            # the threads of the client interleave different operations.
            stream = self._streams.setdefault(operation, random.Random(f"{self.seed}/{operation}"))
            if stream.random() < self.rate:
                return stream.choice(self.kinds), None
            return "forwarded", None

    def _record(self, operation: str, outcome: str, text: str) -> int:
        """Records a request before it is answered (a client may look at the figures once it has its
        answer); its status follows with `_settle`."""
        with self._lock:
            self.seen.append(Seen(time.monotonic(), operation, outcome, text, 0))
            return len(self.seen) - 1

    def _settle(self, index: int, status: int) -> None:
        with self._lock:
            self.seen[index] = dataclasses.replace(self.seen[index], status=status)


def operation_of(method: str, path: str, headers, body: bytes) -> str:
    """The AWS operation (X-Amz-Target's, or the form's Action), else a registry request's method and kind."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rpartition(".")[2]
    if b"Action=" in body[:4096]:
        match = re.search(r"(?:^|&)Action=([A-Za-z0-9]+)", body[:4096].decode("latin-1"))
        if match:
            return match.group(1)
    found = REGISTRY_PATH.match(urlsplit(path).path)
    return f"{method} {found.group(1) if found else urlsplit(path).path}"


def aws_error_body(json_protocol: bool, code: str, message: str) -> tuple[str, bytes]:
    """(content type, body) of an AWS error as the service's protocol spells it."""
    if json_protocol:
        return "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()
    request_id = uuid.uuid4()
    xml = (f'<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type>'
           f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
           "</ErrorResponse>")
    return "text/xml", xml.encode()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the clients expect; every answer has a Content-Length

        def log_message(self, *args) -> None:  # the record is the log
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            body = self._body()
            operation = operation_of(self.command, self.path, self.headers, body)
            text = unquote_plus(body[:RECORDED_BODY].decode("utf-8", "replace")) if not proxy.registry else ""
            outcome, rule = proxy._decide(operation, text)
            index = proxy._record(operation, outcome, text)
            proxy._settle(index, self._respond(outcome, rule, body))

        def _respond(self, outcome: str, rule: Rule | None, body: bytes) -> int:
            """Answers (or not) as `outcome` says; the status answered, 0 for none."""
            if outcome == "drop":
                self.close_connection = True
                return 0
            if outcome == "rule":
                return self._aws_error(rule.status, rule.code, rule.message)
            if outcome == "throttle":
                return self._fault(400, 429, "Throttling", "ThrottlingException", "TOOMANYREQUESTS", "Rate exceeded")
            if outcome == "500":
                return self._fault(500, 500, "InternalFailure", "InternalFailure", "UNKNOWN", "injected server error")
            if outcome == "slow":
                time.sleep(proxy.slow_seconds)
            return self._forward(body, lose=outcome == "lost")

        def _fault(self, aws_status, registry_status, xml_code, json_code, registry_code, message) -> int:
            if proxy.registry:
                payload = json.dumps({"errors": [{"code": registry_code, "message": message}]}).encode()
                return self._answer(registry_status, "application/json", payload)
            return self._aws_error(aws_status, json_code if "X-Amz-Target" in self.headers else xml_code, message)

        def _aws_error(self, status: int, code: str, message: str) -> int:
            return self._answer(status, *aws_error_body("X-Amz-Target" in self.headers, code, message))

        def _answer(self, status: int, content_type: str, payload: bytes) -> int:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return status

        def _forward(self, body: bytes, lose: bool = False) -> int:
            # The Host header goes on unchanged: a registry builds its Location headers from it (so they point
            # back here), and it is what the AWS client signed.
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection = http.client.HTTPConnection(proxy.target, timeout=300)
            try:
                sends = body or self.command in ("POST", "PUT", "PATCH")
                connection.request(self.command, self.path, body=body if sends else None, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
            except OSError:
                self.close_connection = True  # the target did not answer: neither does the proxy
                return 0
            finally:
                connection.close()
            if lose:
                self.close_connection = True
                return answer.status
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() not in ("date", "server"):  # send_response's
                    self.send_header(name, value)
            length = answer.getheader("Content-Length") if self.command == "HEAD" else str(len(payload))
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return answer.status

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
