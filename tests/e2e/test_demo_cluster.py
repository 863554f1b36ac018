"""`appmod demo --cluster`: the demo's resource applied to the API server the kubeconfig names, and the real
operator (a process of its own) moving it onto the demo's stand-ins; afterwards nothing of it is left in
the cluster but the CRD, which was installed before."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_cluster_runs_the_real_operator(kube, kubectl, tmp_path):
    env = {"HOME": os.environ.get("HOME", str(tmp_path)), "KUBECONFIG": str(kube.kubeconfig),
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    result = subprocess.run(["appmod", "demo", "--cluster", "--dir", str(tmp_path / "work")], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    print(result.stdout)
    assert "cluster: the API server of the kubeconfig (v1.20.2)" in result.stdout
    assert re.search(r"^demo\s+oscar\s+True\s+Reconciled\s+Ready\s+1\s", result.stdout, re.M), result.stdout
    assert "6 tables, 3,312 rows in PostgreSQL" in result.stdout
    log = (tmp_path / "work" / "operator.log").read_text()
    assert "demo/oscar" in log or "[demo/oscar]" in log  # the operator process did the work
    left = kubectl.run("get", "appmodernizations", "-n", "demo", "-o", "name", check=False)
    assert left.stdout.strip() == ""
    namespace = kubectl.run("get", "namespace", "demo", "-o", "jsonpath={.status.phase}", check=False)
    assert namespace.returncode != 0 or namespace.stdout == "Terminating"  # made by the demo, so deleted
    kubectl.run("get", "crd", "appmodernizations.appmod.io")  # installed before the demo: left in place
