"""Log output for the operator and the command line: text or one JSON object a line, and the level.

Every record about a resource carries `namespace`, `name`, and when known `generation` and `step`, as
fields of the JSON object (from scope.py for our own lines, from kopf's `k8s_ref` for kopf's). kopf logs
each `TemporaryError` at ERROR ("Handler ... failed temporarily"); the engine raises one only to be called
again while AWS works, so those lines go out at INFO, and ERROR stays for failures (the engine's own
lines, and kopf's "failed with an exception").

Called once at start by runner.py and cli.py.
"""

from __future__ import annotations

import json
import logging

from appmod_operator import scope
from appmod_operator.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(object)s%(message)s"
FIELDS = ("namespace", "name", "generation", "step")
# kopf's wording for a handler that asked to be called again (kopf/_core/actions/execution.py).
KOPF_RETRY = "failed temporarily"


class ResourceFields(logging.Filter):
    """Puts the resource a record is about on the record (`appmod` attribute), and lowers kopf's
    "failed temporarily" to INFO: waiting is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.appmod = _fields(record)
        if record.name.startswith("kopf") and record.levelno == logging.ERROR and KOPF_RETRY in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger().isEnabledFor(logging.INFO)
        return True


def _fields(record: logging.LogRecord) -> dict:
    current = scope.current()
    if current is not None and current.name:
        found = {"namespace": current.namespace, "name": current.name, "generation": current.generation,
                 "step": current.step}
    else:
        ref = getattr(record, "k8s_ref", None)  # kopf attaches the resource a record is about
        found = {"namespace": ref.get("namespace"), "name": ref.get("name")} if isinstance(ref, dict) else {}
    return {k: v for k, v in found.items() if v not in (None, "")}


class TextFormatter(logging.Formatter):
    """Plain lines, prefixed with [namespace/name] when the record is about one resource."""

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "appmod", None) or _fields(record)
        record.object = f"[{fields['namespace']}/{fields['name']}] " if "name" in fields else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the resource's fields when the record is about one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **(getattr(record, "appmod", None) or _fields(record)),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(settings: Settings) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(ResourceFields())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # The AWS SDK and HTTP clients are chatty at debug; our own debug is what a user asked for. The Kubernetes
    # client logs whole response bodies at debug, a pull secret's data among them: never below INFO.
    for noisy in ("botocore", "boto3", "urllib3", "aiohttp.access", "kubernetes"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
