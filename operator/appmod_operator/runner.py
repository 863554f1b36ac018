"""The `appmod-operator` process: flags, logging, kopf's settings, the liveness endpoint, the loop.

kopf settings chosen here (https://kopf.readthedocs.io/en/stable/configuration/):
- our finalizer and annotation prefix (design.md), so kopf's bookkeeping lives under appmod.io;
- watch timeouts on both sides, so a watch the API server silently stops feeding is re-established;
- standalone: one replica, no peering CRDs to install;
- as many handler threads as APPMOD_MAX_RECONCILES.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket

import kopf

from appmod_operator import FINALIZER, GROUP, config, kubeconfig, logs, metrics
from appmod_operator.errors import ConfigError

# The API server ends each watch after this long; the client gives up a little later on its own.
WATCH_SERVER_TIMEOUT = 270
WATCH_CLIENT_TIMEOUT = 300


def build_kopf_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.watching.server_timeout = WATCH_SERVER_TIMEOUT
    settings.watching.client_timeout = WATCH_CLIENT_TIMEOUT
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    # The events are the engine's own (condition transitions, AWS changes), posted with kopf.event: kopf's
    # posting of its log lines as events would add one per pass ("Timer 'reconcile' succeeded") and flood.
    settings.posting.level = logging.CRITICAL
    # Handlers are sync: each pass takes one of these threads. Copies run in jobs.py's threads instead.
    settings.execution.max_workers = config.current().max_reconciles
    return settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="appmod-operator", description="Run the AppModernization operator.")
    parser.add_argument("--namespace", "-n", action="append", default=[],
                        help="watch only this namespace (repeatable); default: all namespaces")
    parser.add_argument("--liveness", default=os.environ.get("APPMOD_LIVENESS_ENDPOINT", "http://0.0.0.0:8080/healthz"),
                        help="liveness endpoint URL [APPMOD_LIVENESS_ENDPOINT]")
    config.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        args.settings = config.load(args)
    except ConfigError as e:
        parser.exit(2, f"appmod-operator: {e}\n")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.configure(args.settings)
    kubeconfig.use_secret_from_environment()
    if args.settings.metrics_port:
        metrics.serve(args.settings.metrics_address, args.settings.metrics_port)
    from appmod_operator import handlers  # noqa: F401 - registers the handlers, after settings are loaded

    asyncio.run(kopf.operator(
        settings=build_kopf_settings(),
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
        # kopf would name itself after the login user (getpass.getuser), which fails for a uid with no
        # passwd entry, as a pod's runAsUser or an ECS task's `user` may well be; standalone, it only logs it.
        identity=f"appmod-operator@{socket.gethostname()}",
    ))
