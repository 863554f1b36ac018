"""boto3 clients, shared per service and region, and the translation of their errors.

Retries are botocore's own adaptive mode (client-side rate limiting plus exponential backoff on
throttling, 5xx and connection errors: https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html);
what is still failing after those attempts becomes an `errors.AwsError`, classified once by
`errors.aws_error`. The endpoint comes from config (`--endpoint-url`) or boto3's own
`AWS_ENDPOINT_URL[_<SERVICE>]`. Called by the other modules of aws/.
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

from appmod_operator import config
from appmod_operator.errors import AwsError, aws_error

RETRIES = {"mode": "adaptive", "total_max_attempts": 6}  # the first try included
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
        return _clients[key]


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
