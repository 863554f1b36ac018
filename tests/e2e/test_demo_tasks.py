"""`appmod demo --run-tasks` on the test dockerd: the Oscar sandbox image (the Docker Hub stand-in's)
moved onto the demo's own stand-ins, with Django's migrate as the schema task and the shop as the
service's task really running (the local task executor in the demo's process, the image loaded from the
demo's ECR layout). With `--keep`, the test looks from outside: the shop's page through the URL the demo
prints, the migrated products through its psql URL. Ctrl-C leaves no container of the demo's behind.

The task network is "task" (a namespace per task, ports on 127.0.0.1): on the host's, the sandbox's
server would bind 0.0.0.0:8080 of this machine. tests/infra/test_task_executor.py covers the host's."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest

from appmod_operator.demo.fargate.containers import OWNER_LABEL
from tests.demo.kept import connect, kept_demo
from tests.e2e.conftest import get, shop_database

pytestmark = pytest.mark.e2e


def test_demo_run_tasks_moves_the_oscar_shop_and_serves_it(dockerd, hub_registry, oscar_image, tmp_path):
    work = tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APPMOD_", "KUBECONFIG"))}
    env.update(DOCKER_HOST=f"unix://{dockerd.socket}", APPMOD_INSECURE_REGISTRIES=hub_registry.host)
    argv = [str(Path(sys.executable).parent / "appmod"), "demo", "--run-tasks", "--task-network", "task", "--image",
            oscar_image.reference, "--keep", "--dir", str(work)]
    with kept_demo(argv, env) as output:
        print(output)
        assert re.search(r"^demo\s+oscar\s+True\s+Reconciled\s+Ready\s+1\s", output, re.M), output
        assert "(python manage.py migrate --noinput) exited 0" in output  # Django's migrate made the schema

        source = sqlite3.connect(shop_database(dockerd, oscar_image.reference))
        product_id, slug, title = source.execute("SELECT id, slug, title FROM catalogue_product WHERE is_public "
                                                 "AND structure = 'standalone' ORDER BY id LIMIT 1").fetchone()
        products = source.execute("SELECT count(*) FROM catalogue_product").fetchone()[0]
        with connect(output) as target:
            assert target.execute("SELECT count(*) FROM catalogue_product").fetchone()[0] == products

        shop = re.search(r"the shop: (http://127\.0\.0\.1:\d+/)", output).group(1)
        status, page = get(f"{shop}catalogue/{slug}_{product_id}/")
        assert status == 200 and title in page  # served from PostgreSQL: a title only the SQLite had
    left = dockerd.client().containers.list(all=True, filters={"label": f"{OWNER_LABEL}=appmod-demo:{work / 'ecr'}"})
    assert left == []
