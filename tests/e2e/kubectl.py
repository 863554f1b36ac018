"""kubectl against the test API server (and `wait_for`, polling until the cluster shows what a test waits for)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.infra.kube import kubectl_binary
from tests.infra.process import wait_for  # noqa: F401 - the e2e tests' polling, from here


class Kubectl:
    def __init__(self, kubeconfig: Path):
        self.kubeconfig = kubeconfig

    def run(self, *args: str, stdin: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([kubectl_binary(), "--kubeconfig", str(self.kubeconfig), *args], input=stdin,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def get(self, *args: str) -> dict:
        return json.loads(self.run("get", *args, "-o", "json").stdout)
