"""Log lines name the resource they are about, in text and in JSON."""

from __future__ import annotations

import json
import logging

from appmod_operator import logs


def record(**extra) -> logging.LogRecord:
    rec = logging.LogRecord("kopf.objects", logging.INFO, __file__, 1, "Handler %r succeeded.", ("x",), None)
    rec.__dict__.update(extra)
    return rec


def test_text_lines_carry_namespace_and_name():
    line = logs.TextFormatter().format(record(k8s_ref={"namespace": "shop", "name": "oscar"}))
    assert line.endswith("kopf.objects: [shop/oscar] Handler 'x' succeeded.")
    assert "[" not in logs.TextFormatter().format(record())


def test_json_lines_are_one_object_each():
    entry = json.loads(logs.JsonFormatter().format(record(k8s_ref={"namespace": "shop", "name": "oscar"})))
    assert (entry["level"], entry["message"], entry["namespace"], entry["name"]) == (
        "info", "Handler 'x' succeeded.", "shop", "oscar")


def test_our_lines_carry_the_resource_step_and_generation_as_fields():
    from appmod_operator import scope

    with scope.resource("shop", "oscar", 3), scope.step("DataMigrated"):
        rec = logging.LogRecord("appmod_operator.reconcile.data", logging.INFO, __file__, 1, "copying", (), None)
        logs.ResourceFields().filter(rec)
    entry = json.loads(logs.JsonFormatter().format(rec))
    assert {k: entry[k] for k in ("namespace", "name", "generation", "step")} == {
        "namespace": "shop", "name": "oscar", "generation": 3, "step": "DataMigrated"}


def test_kopfs_call_me_again_is_info_and_its_failures_stay_errors():
    waiting = logging.LogRecord("kopf.objects", logging.ERROR, __file__, 1,
                                "Handler 'reconcile' failed temporarily: 0 of 1 tasks running", (), None)
    failed = logging.LogRecord("kopf.objects", logging.ERROR, __file__, 1,
                               "Handler 'reconcile' failed with an exception. Will retry.", (), None)
    for rec in (waiting, failed):
        logs.ResourceFields().filter(rec)
    assert (waiting.levelname, failed.levelname) == ("INFO", "ERROR")


def test_a_thread_started_in_a_step_keeps_that_step_after_the_pass_moved_on():
    import contextvars
    import threading

    from appmod_operator import scope

    seen, go = [], threading.Event()
    with scope.resource("shop", "oscar", 1) as current:
        with scope.step("ImageReplicated"):
            job = threading.Thread(target=contextvars.copy_context().run,
                                   args=(lambda: (go.wait(5), seen.append(scope.current().step)),))
            job.start()
        with scope.step("ServiceStable"):
            scope.record_change("ecs", "CreateService")
            go.set()
            job.join(5)
    assert seen == ["ImageReplicated"] and current.changes == [("ecs", "CreateService", "ServiceStable")]


def test_debug_keeps_the_kubernetes_client_at_info_for_it_logs_response_bodies_secrets_among_them():
    from appmod_operator.config import Settings

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure(Settings(log_level="debug"))
        assert root.level == logging.DEBUG
        assert not logging.getLogger("kubernetes.client.rest").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:], root.level = handlers, level
        logging.getLogger("kubernetes").setLevel(logging.NOTSET)
