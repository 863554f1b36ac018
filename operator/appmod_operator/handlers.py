"""kopf wiring only: which events reach the reconcile engine. Each handler calls one function.

Imported by runner.py after the settings are loaded (the timer's interval comes from them).
"""

from __future__ import annotations

import kopf

from appmod_operator import GROUP, PLURAL, VERSION, config
from appmod_operator.reconcile import engine

RESOURCE = (GROUP, VERSION, PLURAL)
RESYNC = config.current().resync_seconds


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
@kopf.timer(*RESOURCE, interval=RESYNC, initial_delay=RESYNC)  # re-reads AWS to correct drift
def reconcile(body: kopf.Body, patch: kopf.Patch, **_) -> None:
    patch.status.update(engine.reconcile(body))


@kopf.on.delete(*RESOURCE)
def teardown(body: kopf.Body, **_) -> None:
    engine.teardown(body)
