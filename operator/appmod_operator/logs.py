"""Log output for the operator and the command line: text or one JSON object a line, and the level.

Called once at start by runner.py and cli.py.
"""

from __future__ import annotations

import json
import logging

from appmod_operator.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(object)s%(message)s"


def _object_ref(record: logging.LogRecord) -> dict | None:
    """kopf attaches the resource a record is about as `k8s_ref` (namespace, name, uid, ...)."""
    ref = getattr(record, "k8s_ref", None)
    return ref if isinstance(ref, dict) else None


class TextFormatter(logging.Formatter):
    """Plain lines, prefixed with [namespace/name] when the record is about one resource."""

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        ref = _object_ref(record)
        record.object = f"[{ref.get('namespace')}/{ref.get('name')}] " if ref else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with kopf's object reference when the record carries one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if ref := _object_ref(record):
            entry["object"] = ref
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(settings: Settings) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # The AWS SDK and HTTP clients are chatty at debug; our own debug is what a user asked for.
    for noisy in ("botocore", "boto3", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
