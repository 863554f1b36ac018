"""The source registry's credentials, from `spec.source.imagePullSecret`: a Secret of type
kubernetes.io/dockerconfigjson in the resource's namespace, read (never written) through the
Kubernetes API with the operator's own service account or kubeconfig.

Called by image.py. The command line, which has no cluster, cannot read one: it says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading

from appmod_operator.errors import SpecError
from appmod_operator.registry.reference import DOCKER_HUB, DOCKER_HUB_API

FIELD = "spec.source.imagePullSecret"
SECRET_TYPE = "kubernetes.io/dockerconfigjson"
# The keys `docker login` writes for Docker Hub.
HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", DOCKER_HUB, DOCKER_HUB_API)
_loaded = threading.Lock()
_api = None


def credentials(namespace: str, name: str, registry: str) -> tuple[str, str]:
    """(username, password) for `registry` from the Secret `name`."""
    secret = _read(namespace, name)
    if secret.type != SECRET_TYPE:
        raise SpecError(FIELD, f"Secret {namespace}/{name} is of type {secret.type}, not {SECRET_TYPE}")
    try:
        config = json.loads(base64.b64decode((secret.data or {}).get(".dockerconfigjson", "")))
    except (ValueError, binascii.Error):
        raise SpecError(FIELD, f"Secret {namespace}/{name} has no readable .dockerconfigjson") from None
    found = build_credentials(config, registry)
    if found is None:
        raise SpecError(FIELD, f"Secret {namespace}/{name} holds no credentials for {registry} (it has: "
                        f"{', '.join(sorted(config.get('auths', {}))) or 'none'})")
    return found


def build_credentials(config: dict, registry: str) -> tuple[str, str] | None:
    """The entry of a docker config.json for `registry`, matched on its host as `docker login` keys them."""
    wanted = HUB_KEYS if registry in HUB_KEYS else (registry,)
    for key, entry in (config.get("auths") or {}).items():
        host = key.split("://", 1)[-1].split("/", 1)[0] if "://" in key else key.split("/", 1)[0]
        if key in wanted or host in wanted:
            if entry.get("username") and entry.get("password"):
                return entry["username"], entry["password"]
            user, _, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
            if user and password:
                return user, password
    return None


def _read(namespace: str, name: str):
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    global _api
    with _loaded:
        if _api is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                try:
                    config.load_kube_config()
                except config.ConfigException:
                    raise SpecError(FIELD, "reading a Secret needs a cluster; run this resource in one") from None
            _api = client.CoreV1Api()
    try:
        return _api.read_namespaced_secret(name, namespace)
    except ApiException as e:
        if e.status == 404:
            raise SpecError(FIELD, f"Secret {namespace}/{name} does not exist") from None
        raise SpecError(FIELD, f"Secret {namespace}/{name} cannot be read: {e.status} {e.reason}") from None
