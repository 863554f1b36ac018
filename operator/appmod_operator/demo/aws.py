"""The demo's AWS: moto's server (moto[server]'s ThreadedMotoServer) in this process, on 127.0.0.1 at a
free port, serving every service the operator calls (RDS, EC2, Secrets Manager, ECR, ECS, IAM, Logs, S3).

`start()` changes nothing global: it returns an Emulator whose `environment()` is what the caller sets
(in os.environ, before the operator's first AWS call) so that boto3 and moto itself see it. moto's
request log goes to the `werkzeug` logger at INFO; werkzeug adds a stderr handler of its own when no
handler is configured, so a caller with a display of its own sets that logger's level.

Called by demo/run.py; tests/unit/test_demo_parts.py.
"""

from __future__ import annotations

import urllib.request

from moto.server import ThreadedMotoServer

HOST = "127.0.0.1"
DEFAULT_REGION = "us-east-2"
# moto accepts any credentials; these are moto's documented placeholders, not secrets.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
# Read by moto (in this process) from os.environ: AWS's managed IAM policies exist only when asked for
# (the execution role attaches AmazonECSTaskExecutionRolePolicy), and a new ECS service reports this many
# tasks running (moto runs none), so a service of 1 task is stable.
MOTO_SETTINGS = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "MOTO_ECS_SERVICE_RUNNING": "1"}


class Emulator:
    """moto, running. `stop()` shuts its server down; a context manager stops it at exit."""

    def __init__(self, server: ThreadedMotoServer, region: str):
        self._server, self.region = server, region
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"

    def environment(self) -> dict[str, str]:
        """What the caller sets for the operator (and boto3) to use this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **MOTO_SETTINGS,
        }

    def reset(self) -> None:
        """Forget every AWS resource (moto's own reset call)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Emulator({self.endpoint_url!r}, region={self.region!r})"


def start(region: str = DEFAULT_REGION) -> Emulator:
    """moto on 127.0.0.1; port 0 lets the operating system choose a free one, so there is no race."""
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()  # returns once the socket is bound and listening
    return Emulator(server, region)
