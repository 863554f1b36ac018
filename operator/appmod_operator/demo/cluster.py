"""`appmod demo --cluster`: the demo's resource applied to the API server the kubeconfig names (KUBECONFIG
or ~/.kube/config), and the real operator, `appmod-operator` in a process of its own, reconciling it
against the demo's stand-ins (which run in this process; the operator reaches them on 127.0.0.1). The
progress shown is the status the operator writes.

What it makes in the cluster, and takes away again unless `--keep`: the CRD (only if it was not
installed), the namespace `demo` (only if absent) and the resource (deleted through the operator, so its
teardown runs). Called by demo/run.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.rest import ApiException

from appmod_operator import GROUP, PLURAL, VERSION
from appmod_operator.reconcile.outcome import Result
from appmod_operator.standalone import Tracked

CRD_NAME = f"{PLURAL}.{GROUP}"
NAMESPACE = "demo"
WATCH_SECONDS = 1.0


class ClusterError(Exception):
    """No reachable API server, or the operator ended; one line for the user."""


def connect() -> tuple[client.ApiClient, str]:
    """A client of the kubeconfig's API server and the server's version; ClusterError when there is none."""
    try:
        kube_config.load_kube_config()
        api = client.ApiClient()
        version = client.VersionApi(api).get_code(_request_timeout=5)
    except (kube_config.ConfigException, ApiException, OSError) as e:
        raise ClusterError(f"--cluster: no reachable API server in the kubeconfig ({str(e).splitlines()[0]})") from None
    except Exception as e:  # noqa: BLE001 - urllib3 raises its own errors for a server that is not there
        raise ClusterError(f"--cluster: the kubeconfig's API server does not answer ({type(e).__name__})") from None
    return api, version.git_version


def run(api: client.ApiClient, body: dict, work: Path, timeout: float, on_change, parts: ExitStack, say) -> Tracked:
    """Applies `body` and runs the operator until the resource is Ready (or Stalled, or `timeout`). What it
    made is taken away when `parts` closes: the resource deleted through the operator (its teardown runs),
    then the operator stopped, then the namespace and the CRD if they were made here."""
    made_crd = _ensure_crd(api)
    made_namespace = _ensure_namespace(api, body["metadata"]["namespace"])
    objects = client.CustomObjectsApi(api)
    _apply(objects, body)
    say(f"applied {body['metadata']['namespace']}/{body['metadata']['name']} to the cluster; the operator's log is "
        f"{work / 'operator.log'}")
    operator = _start_operator(work)
    parts.callback(_clean_up, api, body, operator, made_namespace, made_crd, say)
    return _watch(objects, body, operator, timeout, on_change)


def _clean_up(api: client.ApiClient, body: dict, operator: subprocess.Popen, made_namespace: bool, made_crd: bool,
              say) -> None:
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        say(f"deleting {namespace}/{name} from the cluster (the operator tears down what it made)")
        objects = client.CustomObjectsApi(api)
        objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        _wait_gone(objects, body, operator)
    finally:
        operator.terminate()
        operator.wait(30)
    if made_namespace:
        client.CoreV1Api(api).delete_namespace(namespace)
    if made_crd:
        client.ApiextensionsV1Api(api).delete_custom_resource_definition(CRD_NAME)


def _ensure_crd(api: client.ApiClient) -> bool:
    extensions = client.ApiextensionsV1Api(api)
    if not _absent(lambda: extensions.read_custom_resource_definition(CRD_NAME)):
        return False
    crd = yaml.safe_load(resources.files("appmod_operator.demo").joinpath("crd.yaml").read_text(encoding="utf-8"))
    extensions.create_custom_resource_definition(crd)
    for _ in range(60):
        found = extensions.read_custom_resource_definition(CRD_NAME)
        if any(c.type == "Established" and c.status == "True" for c in found.status.conditions or ()):
            return True
        time.sleep(0.5)
    raise ClusterError(f"the CRD {CRD_NAME} was not Established within 30 s")


def _ensure_namespace(api: client.ApiClient, namespace: str) -> bool:
    core = client.CoreV1Api(api)
    if not _absent(lambda: core.read_namespace(namespace)):
        return False
    core.create_namespace({"metadata": {"name": namespace}})
    return True


def _absent(read) -> bool:
    """Whether `read()` finds nothing (404); other API errors are raised."""
    try:
        read()
        return False
    except ApiException as e:
        if e.status != 404:
            raise
    return True


def _apply(objects: client.CustomObjectsApi, body: dict) -> None:
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    except ApiException as e:
        if e.status != 409:
            raise
        objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, {"spec": body["spec"]})


def _start_operator(work: Path) -> subprocess.Popen:
    command = shutil.which("appmod-operator") or str(Path(sys.executable).with_name("appmod-operator"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (work / "operator.log").open("ab")
    # Only the demo's namespace: an operator that watched all namespaces would take other resources onto the
    # demo's stand-ins.
    return subprocess.Popen([command, f"--namespace={NAMESPACE}", f"--liveness=http://127.0.0.1:{port}/healthz"],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))


def _watch(objects, body: dict, operator: subprocess.Popen, timeout: float, on_change) -> Tracked:
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    tracked, deadline, seen = Tracked(body), time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if operator.poll() is not None:
            raise ClusterError(f"the operator ended with exit code {operator.returncode}; see its log")
        current = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name).get("status") or {}
        if current != seen:
            seen = current
            tracked.result, tracked.passes = Result(current), tracked.passes + 1
            on_change(tracked)
        if tracked.ready or tracked.stalled:
            tracked.finished = True
            return tracked
        time.sleep(WATCH_SECONDS)
    return tracked


def _wait_gone(objects, body: dict, operator: subprocess.Popen, seconds: float = 120) -> None:
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and operator.poll() is None:
        try:
            objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as e:
            if e.status == 404:
                return
            raise
        time.sleep(WATCH_SECONDS)
    raise ClusterError(f"{namespace}/{name} was not deleted within {seconds:.0f} s (its finalizer stays until the "
                       "operator's teardown is done)")
