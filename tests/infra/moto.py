"""moto server on 127.0.0.1: the AWS control plane (RDS, ECR, ECS, EC2, IAM, Secrets Manager, Logs)."""

from __future__ import annotations

import sys
import urllib.request

from tests.infra import process
from tests.infra.part import Part

REGION = "us-east-1"


class MotoServer(Part):
    name = "moto"
    how_to_get = "pip install 'moto[server]'"

    def missing(self) -> str | None:
        try:
            import moto.server  # noqa: F401
        except ImportError as e:
            return f"moto server is not importable ({e})"
        return None

    def start(self) -> None:
        self.fresh_dir()
        port = process.free_port()
        self.url = f"http://127.0.0.1:{port}"
        # AWS's managed IAM policies (AmazonECSTaskExecutionRolePolicy) exist in moto only when asked for.
        # moto never starts a service's tasks; MOTO_ECS_SERVICE_RUNNING is how many it reports running for
        # each new service (with a COMPLETED deployment when that reaches the desired count), so a service
        # of 1 task is stable and one of 2 stays rolling out. The server is moto's own with the local task
        # executor inside it, off until the ecs-tasks part turns it on (then tasks really run).
        proc = self.spawn([sys.executable, "-m", "tests.infra.fargate.server", "--port", str(port)], "moto.log",
                          env={"MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "MOTO_ECS_SERVICE_RUNNING": "1",
                               "PYTHONPATH": process.repository_pythonpath()})
        process.wait_until(lambda: process.http_status(f"{self.url}/moto-api/") == 200, "moto server", 60, proc,
                           self.dir / "moto.log")

    def reset(self) -> None:
        """Forget every AWS resource (between tests)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def actions(self) -> dict[str, int]:
        """The IAM action of every call our code has made of this server since it started, and how often."""
        import json

        with urllib.request.urlopen(f"{self.url}/appmod-executor/actions", timeout=10) as response:
            return json.loads(response.read())

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def ecr_password(self) -> str:
        """The password moto's ECR get_authorization_token hands out (the ECR registry's htpasswd user AWS)."""
        import base64

        import boto3

        ecr = boto3.client("ecr", endpoint_url=self.url, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        return base64.b64decode(token).decode().split(":", 1)[1]

