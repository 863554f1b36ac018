"""kopf wiring only: which events reach the reconcile engine. Each handler calls one function.

Imported by runner.py after the settings are loaded (the timer's interval comes from them).
"""

from __future__ import annotations

import kopf

from appmod_operator import GROUP, PLURAL, VERSION, config
from appmod_operator.reconcile import engine
from appmod_operator.reconcile.outcome import Result

RESOURCE = (GROUP, VERSION, PLURAL)
RESYNC = config.current().resync_seconds


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
@kopf.timer(*RESOURCE, interval=RESYNC, initial_delay=RESYNC)  # re-reads AWS to correct drift
def reconcile(body: kopf.Body, patch: kopf.Patch, **_) -> None:
    _apply(engine.reconcile(body), patch)


@kopf.on.delete(*RESOURCE)
def teardown(body: kopf.Body, patch: kopf.Patch, **_) -> None:
    _apply(engine.teardown(body), patch)


def _apply(result: Result, patch: kopf.Patch) -> None:
    """The status goes out with kopf's patch even when we ask to be called again: kopf applies the
    patch after the handler, failed or not, and keeps our finalizer while a delete handler retries."""
    patch.status.update(result.status)
    if result.retry_after is not None:
        raise kopf.TemporaryError(result.message, delay=result.retry_after)
