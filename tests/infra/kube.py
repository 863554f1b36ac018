"""kube-apiserver v1.20.2 with etcd on 127.0.0.1, token auth and RBAC, and a kubeconfig.

The apiserver binary is built once per machine by tests/infra/build-kube.sh into a per-user cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.infra import process
from tests.infra.part import Part, which

KUBE_VERSION = "v1.20.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "appmod" / f"kube-{KUBE_VERSION}"
ADMIN_TOKEN_USER = "admin"
OPERATOR_USER = "appmod-operator"


def kubectl_binary() -> str | None:
    return shutil.which("kubectl") or (str(CACHE / "kubectl") if (CACHE / "kubectl").exists() else None)


class KubeApiServer(Part):
    name = "kube"
    how_to_get = "run `bash tests/infra/build-kube.sh` and `apt-get install etcd-server`"

    def missing(self) -> str | None:
        if not (CACHE / "kube-apiserver").exists():
            return f"no kube-apiserver in {CACHE}"
        if kubectl_binary() is None:
            return "no kubectl on PATH or in the cache"
        if command := which("etcd", "openssl"):
            return f"{command} is not on PATH"
        return None

    def start(self) -> None:
        d = self.fresh_dir()
        self.admin_token = os.urandom(16).hex()
        self.operator_token = os.urandom(16).hex()
        (d / "tokens.csv").write_text(
            f'{self.admin_token},{ADMIN_TOKEN_USER},1,"system:masters"\n'
            f"{self.operator_token},{OPERATOR_USER},2\n"
        )
        subprocess.run(["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"], check=True, capture_output=True)
        self._start_etcd(d)
        self.port = process.free_port()
        self._apiserver_argv = [
            str(CACHE / "kube-apiserver"),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}", "--insecure-port=0",
            f"--cert-dir={d / 'certs'}",
            f"--token-auth-file={d / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={d / 'sa.key'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--disable-admission-plugins=ServiceAccount",
            "--enable-priority-and-fairness=false",
        ]
        self.url = f"https://127.0.0.1:{self.port}"
        self._serve()
        self.kubeconfig = d / "kubeconfig"
        self.write_kubeconfig(self.kubeconfig, ADMIN_TOKEN_USER, self.admin_token)

    def _serve(self) -> None:
        self._apiserver = self.spawn(self._apiserver_argv, "apiserver.log")
        process.wait_until(self._ready, "kube-apiserver", 90, self._apiserver, self.dir / "apiserver.log")

    def restart(self) -> None:
        """The API server stopped (every watch and request cut) and started again on the same port, etcd,
        certificates and tokens, so clients and their kubeconfigs carry on; returns once it is ready.
        tests/e2e/test_crashes.py restarts it mid reconcile."""
        self.stop_one(self._apiserver)
        self._serve()

    def _start_etcd(self, d: Path) -> None:
        client, peer = process.free_port(), process.free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        proc = self.spawn([
            "etcd", "--name=appmod", f"--data-dir={d / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}", f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=appmod=http://127.0.0.1:{peer}",
        ], "etcd.log", env={"ETCD_UNSUPPORTED_ARCH": os.uname().machine})
        healthy = lambda: process.http_status(f"{self.etcd_url}/health") == 200  # noqa: E731
        process.wait_until(healthy, "etcd", 30, proc, d / "etcd.log")

    def _ready(self) -> bool:
        return process.http_status(f"{self.url}/readyz", f"Bearer {self.admin_token}") == 200

    def write_kubeconfig(self, path: Path, user: str, token: str, namespace: str = "default") -> Path:
        """A kubeconfig for `user`; the CA is the apiserver's own self-signed certificate."""
        ca = self.dir / "certs" / "apiserver.crt"
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: appmod-test, cluster: {{server: '{self.url}', certificate-authority: '{ca}'}}}}]\n"
            f"users: [{{name: {user}, user: {{token: '{token}'}}}}]\n"
            f"contexts: [{{name: {user}, context: {{cluster: appmod-test, user: {user}, namespace: {namespace}}}}}]\n"
            f"current-context: {user}\n"
        )
        return path

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

