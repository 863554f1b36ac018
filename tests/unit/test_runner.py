"""The operator process: kopf settings and flags, without starting kopf."""

from __future__ import annotations

import subprocess

import kopf

from appmod_operator import runner


def test_kopf_keeps_its_bookkeeping_under_our_prefix_and_reconnects_silent_watches():
    settings = runner.build_kopf_settings()
    assert settings.persistence.finalizer == "appmod.io/finalizer"
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert settings.persistence.progress_storage.prefix == "appmod.io"
    assert settings.persistence.diffbase_storage.prefix == "appmod.io"
    assert 0 < settings.watching.server_timeout < settings.watching.client_timeout


def test_a_bad_setting_stops_the_operator_at_start():
    result = subprocess.run(["appmod-operator", "--log-level", "loud"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--log-level" in result.stderr
