"""moto's server with the local ECS task executor inside: `python -m tests.infra.fargate.server --port N`.

It serves moto's API exactly as `moto_server` does, plus paths of our own under /appmod-executor/
(part.py is their client):
- `POST enable` with the executor's settings (JSON): from then on tasks really run (executor.py);
- `POST disable`: every task's containers removed, moto as it was (tasks "run" without running);
- `GET tasks`: what runs, and the 127.0.0.1 port of each task's container ports;
- `GET calls`: how many AWS calls the operator has made (its User-Agent names it), for the tests' figures;
- `GET actions`: the IAM action of each of those calls (`rds:CreateDBCluster`) and how often, for the
  check of manifests/iam-policy.json against a whole run (tests/e2e/test_iam_recorded.py).

ECR's GetAuthorizationToken answers as AWS does, a token valid 12 hours from now (moto's expired on
2015-01-01, so a client that caches tokens, as the operator does, fetched one on every use).

The executor itself is the product's (appmod_operator/demo/fargate/, which `appmod demo --run-tasks` runs
in its own process); hooks.install wraps moto's ECS calls for it.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections import Counter

from moto.moto_api import state_manager
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from appmod_operator.demo.fargate import executor as executor_module
from appmod_operator.demo.fargate import hooks
from appmod_operator.demo.fargate.executor import Executor, Settings

PREFIX = "/appmod-executor/"
EXECUTOR = Executor()
# AWS calls made by our code (aws/clients.py names it in the User-Agent), counted for the tests' figures.
OPERATOR_AGENT = "appmod-operator"
CALLS: Counter = Counter()
ACTIONS: Counter = Counter()
# The service in SigV4's credential scope: Credential=<key>/<date>/<region>/<service>/aws4_request.
S3_OPERATIONS = {"HEAD": "HeadObject", "GET": "GetObject"}  # the operator only reads objects
SCOPE = re.compile(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/aws4_request")
_calls_lock = threading.Lock()
_moto_running_count = os.environ.get("MOTO_ECS_SERVICE_RUNNING")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.infra.fargate.server")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    hooks.install(EXECUTOR)
    _ecr_tokens_valid_for_twelve_hours()
    moto = DomainDispatcherApplication(create_backend_app)
    make_server("127.0.0.1", args.port, functools.partial(_dispatch, moto), threaded=True).serve_forever()


def _ecr_tokens_valid_for_twelve_hours() -> None:
    from moto.ecr.responses import ECRResponse

    original = ECRResponse.get_authorization_token

    @functools.wraps(original)
    def get_authorization_token(self):
        answer = original(self)
        for data in answer.result["authorizationData"]:
            data["expiresAt"] = time.time() + 12 * 3600
        return answer
    ECRResponse.get_authorization_token = get_authorization_token


def _dispatch(moto, environ, start_response):
    if not environ.get("PATH_INFO", "").startswith(PREFIX):
        if OPERATOR_AGENT in environ.get("HTTP_USER_AGENT", ""):
            action = _action(environ)
            with _calls_lock:
                CALLS[OPERATOR_AGENT] += 1
                ACTIONS[action] += 1
        return moto(environ, start_response)
    return _control(Request(environ))(environ, start_response)


def _control(request: Request) -> Response:
    action = request.path.removeprefix(PREFIX)
    if action == "enable" and request.method == "POST":
        body = json.loads(request.get_data())
        body["routes"] = {int(port): _address(target) for port, target in body["routes"].items()}
        os.environ["MOTO_ECS_SERVICE_RUNNING"] = "0"  # a new service runs what the executor starts, no more
        EXECUTOR.enable(Settings(**body))
        state_manager.set_transition("ecs::task", executor_module.MANUAL)
        return Response("{}", content_type="application/json")
    if action == "disable" and request.method == "POST":
        EXECUTOR.disable()
        if _moto_running_count is None:
            os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
        else:
            os.environ["MOTO_ECS_SERVICE_RUNNING"] = _moto_running_count
        return Response("{}", content_type="application/json")
    if action == "tasks" and request.method == "GET":
        return Response(json.dumps(EXECUTOR.tasks()), content_type="application/json")
    if action == "actions" and request.method == "GET":
        return Response(json.dumps(dict(ACTIONS)), content_type="application/json")
    if action == "calls" and request.method == "GET":
        return Response(json.dumps(dict(CALLS)), content_type="application/json")
    return Response(json.dumps({"error": f"no such executor action {request.method} {action}"}), status=404,
                    content_type="application/json")


def _action(environ: dict) -> str:
    """`<service>:<Operation>` of a request: JSON protocols name it in X-Amz-Target, query protocols (RDS,
    EC2, IAM) in the form's Action (the body is read, then put back for moto), S3 by method. The body of
    an upload is never read."""
    found = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = found.group(1) if found else "unknown"
    if target := environ.get("HTTP_X_AMZ_TARGET"):
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    method = environ["REQUEST_METHOD"]
    if service == "s3":
        return f"s3:{S3_OPERATIONS.get(method, method)}"
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    fields = urllib.parse.parse_qs(body.decode(errors="replace")) or urllib.parse.parse_qs(
        environ.get("QUERY_STRING", ""))
    return f"{service}:{fields.get('Action', ['unknown'])[0]}"


def _address(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host, int(port)


if __name__ == "__main__":
    main()
