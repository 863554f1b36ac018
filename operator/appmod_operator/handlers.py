"""kopf wiring only: which events reach the reconcile engine. Each handler calls one function.
The resync timer starts each resource at a random point of its first interval (jitter), so resources
created together do not all read AWS in the same second.

Imported by runner.py after the settings are loaded (the timer's interval comes from them).
"""

from __future__ import annotations

import random

import kopf

from appmod_operator import GROUP, PLURAL, VERSION, config, kubeconfig
from appmod_operator.reconcile import engine, jobs
from appmod_operator.reconcile.outcome import Result

RESOURCE = (GROUP, VERSION, PLURAL)
RESYNC = config.current().resync_seconds


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
def reconcile(body: kopf.Body, patch: kopf.Patch, **_) -> None:
    _apply(engine.reconcile(body), body, patch)


# The drift timer waits until the resource has gone unchanged for a resync interval (`idle`): a tick right
# after a pass's status patch would get a body read before it and take that pass's transitions for new ones.
# Its id stays `reconcile`, as kopf logs it ("Timer 'reconcile' succeeded").
@kopf.timer(*RESOURCE, id="reconcile", interval=RESYNC, idle=RESYNC,
            initial_delay=lambda **_: RESYNC * random.uniform(0.5, 1.5))
def resync(body: kopf.Body, patch: kopf.Patch, **_) -> None:
    result = engine.resync(body)
    if result is not None:  # None: stalled on AWS's refusal, nothing to ask AWS until the spec changes
        _apply(result, body, patch)


@kopf.on.delete(*RESOURCE)
def teardown(body: kopf.Body, patch: kopf.Patch, **_) -> None:
    _apply(engine.teardown(body), body, patch)


@kopf.on.event(*RESOURCE, when=lambda type, **_: type == "DELETED")
def forget(body: kopf.Body, **_) -> None:
    """Gone from the API server (its teardown done, or its finalizer removed by hand): nothing of it stays."""
    engine.forget(body)


@kopf.on.login()
def login(**kwargs) -> kopf.ConnectionInfo | None:
    """From the kubeconfig an ECS task was handed, else kopf's usual login."""
    return kubeconfig.login(**kwargs)


@kopf.on.cleanup()
def stop(**_) -> None:
    """In-process data migrations stop between units (each table complete or absent); the next operator
    finishes them."""
    jobs.stop()


def _apply(result: Result, body: kopf.Body, patch: kopf.Patch) -> None:
    """Condition transitions, AWS changes and drift put right are said in an event each. The status goes out
    with kopf's patch even when we ask to be called again: kopf applies the patch after the handler,
    failed or not, and keeps our finalizer while a delete handler retries."""
    for event in result.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    patch.status.update(result.status)
    if result.retry_after is not None:
        raise kopf.TemporaryError(result.message, delay=result.retry_after)
