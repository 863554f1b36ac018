"""boto3 clients, shared per service and region, and the translation of their errors.

Retries are botocore's own adaptive mode (client-side rate limiting plus exponential backoff on
throttling, 5xx and connection errors: https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html);
what is still failing after those attempts becomes an `errors.AwsError`, classified once by
`errors.aws_error`. The endpoint comes from config (`--endpoint-url`) or boto3's own
`AWS_ENDPOINT_URL[_<SERVICE>]`. Every call is counted (metrics.AWS_CALLS) by a hook on botocore's
after-call events, which fire once per API call, after its retries; a call that changed AWS is recorded
for the current resource's events (scope.record_change). Called by the other modules of aws/.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from appmod_operator import config, metrics, scope
from appmod_operator.errors import AwsError, aws_error

RETRIES = {"mode": "adaptive", "total_max_attempts": 6}  # the first try included
# Operations that only read (every other one creates, changes or deletes something).
READS = ("Describe", "Get", "List", "BatchGet", "BatchCheck", "Head", "Check", "Lookup")
_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}

F = TypeVar("F", bound=Callable[..., Any])


def client(service: str, region: str | None):
    """The client for `service` in `region` (None: the configured default). Clients are thread-safe;
    creating them is not, hence the lock (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html)."""
    settings = config.current()
    region = region or settings.region
    key = (service, region, settings.endpoint_url)
    with _lock:
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(
                service, region_name=region, endpoint_url=settings.endpoint_url,
                config=Config(retries=RETRIES, connect_timeout=10, read_timeout=60,
                              user_agent_extra="appmod-operator"))
            _clients[key].meta.events.register("after-call", _counted)
            _clients[key].meta.events.register("after-call-error", functools.partial(_counted_error, service))
        return _clients[key]


def _counted(http_response, parsed, model, **_) -> None:
    service, operation = model.service_model.service_name, model.name
    if http_response.status_code < 300:
        metrics.AWS_CALLS.labels(service, operation, "Success").inc()
        if not operation.startswith(READS):
            scope.record_change(service, operation)
    else:
        error = (parsed or {}).get("Error", {}).get("Code") or str(http_response.status_code)
        metrics.AWS_CALLS.labels(service, operation, error).inc()


def _counted_error(service: str, exception, event_name: str, **_) -> None:
    """No answer at all (connection refused, a timeout), once botocore stopped retrying. This event carries
    no operation model: its name is `after-call-error.<service id>.<operation>`."""
    metrics.AWS_CALLS.labels(service, event_name.rpartition(".")[2], type(exception).__name__).inc()


def forget_clients() -> None:
    """Drop the cached clients (tests switch endpoints between runs)."""
    with _lock:
        _clients.clear()


def code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


@contextmanager
def tolerating(*codes: str) -> Iterator[None]:
    """Swallow the AWS errors with these codes (a resource already absent, a rule already there)."""
    try:
        yield
    except ClientError as e:
        if code(e) not in codes:
            raise


def translated(operation: str) -> Callable[[F], F]:
    """Decorates an aws/ function: botocore errors leave it as `AwsError`, without request parameters."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except ClientError as e:
                raise aws_error(operation, code(e), e.response.get("Error", {}).get("Message", "")) from None
            except ParamValidationError:  # its text quotes the parameter values, which may be a password
                raise AwsError(operation, "ParamValidationError", "the request failed botocore's validation") from None
            except BotoCoreError as e:  # no answer: endpoint unreachable, timeouts, no credentials
                raise AwsError(operation, type(e).__name__, str(e)) from None
        return call  # type: ignore[return-value]
    return wrap


def tag_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """AWS's [{"Key": ..., "Value": ...}] shape (ECS spells the keys in lowercase)."""
    return [{key: k, value: v} for k, v in tags.items()]


def tag_dict(tags: list[Mapping[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags or ()}
