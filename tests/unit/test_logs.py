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
    assert (entry["level"], entry["message"], entry["object"]["name"]) == ("info", "Handler 'x' succeeded.", "oscar")
