"""The operator's kubeconfig when it runs outside a cluster, on ECS: the task definition hands it over as
the secret APPMOD_KUBECONFIG (deploy.py), which `use_secret_from_environment` writes to a file only this
user can read, under TMPDIR, and takes out of the environment so nothing started later inherits it.

kopf logs in through the kubernetes client by default, and that client fixes its default kubeconfig path
when it is imported (kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION), long before the file
exists. So once the kubeconfig came from the secret, `login` reads that file with kopf's own kubeconfig
reader (tokens, client certificates, CAs inline or as files; no exec plugins,
https://docs.kopf.dev/en/stable/authentication/); otherwise it is kopf's usual login through the client
(the in-cluster service account, KUBECONFIG, ~/.kube/config). Called by runner.py at start and by
handlers.py's login handler.
"""

from __future__ import annotations

import atexit
import os
import tempfile

import kopf

from appmod_operator.deploy import KUBECONFIG_SECRET_ENV

_written: list[str] = []  # the file use_secret_from_environment wrote, once it has


def use_secret_from_environment(environ=os.environ) -> str | None:
    """The secret's kubeconfig written to a private file, named by KUBECONFIG; None without the variable."""
    text = environ.pop(KUBECONFIG_SECRET_ENV, None)
    if not text:
        return None
    fd, path = tempfile.mkstemp(prefix="kubeconfig-", suffix=".yaml")  # mode 0600
    with os.fdopen(fd, "w") as out:
        out.write(text)
    atexit.register(os.unlink, path)
    environ["KUBECONFIG"] = path
    _written[:] = [path]
    return path


def login(**kwargs) -> kopf.ConnectionInfo | None:
    if _written:
        return kopf.login_with_kubeconfig(**kwargs)
    return kopf.login_via_client(**kwargs)
