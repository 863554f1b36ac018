"""Acting the moment the operator writes a given status: a watch on the API server (not polling, which
could miss a state that lasts one pass), in a thread of its own started before the resource is applied.
Used by tests/e2e/test_crashes.py to SIGKILL the operator at a step boundary or in the middle of a step."""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable

from appmod_operator import GROUP, PLURAL, VERSION


class StatusWatch:
    """Watches the resource `name` until `seen(obj)` is true, then calls `act(obj)` at once, in the watch's
    thread; `wait()` returns that object (or raises what went wrong)."""

    def __init__(self, kube, namespace: str, name: str, seen: Callable[[dict], bool], act: Callable[[dict], None],
                 timeout: float = 150):
        self.kube, self.namespace, self.name, self.seen, self.act = kube, namespace, name, seen, act
        self.deadline = time.monotonic() + timeout
        self.found: dict | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"watch {name}", daemon=True)
        self.thread.start()

    def wait(self) -> dict:
        self.thread.join(max(0.0, self.deadline - time.monotonic()) + 30)
        if self.error is not None:
            raise self.error
        assert self.found is not None, f"{self.name}: the status waited for was never written"
        return self.found

    def _run(self) -> None:
        try:
            while self.found is None and time.monotonic() < self.deadline:
                self._watch_once()
        except BaseException as e:  # noqa: BLE001 - handed to wait()
            self.error = e

    def _watch_once(self) -> None:
        """One watch request; the API server ends it after timeoutSeconds, and the loop opens another."""
        url = (f"{self.kube.url}/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{PLURAL}?watch=1"
               f"&fieldSelector=metadata.name%3D{self.name}&timeoutSeconds=30")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.kube.admin_token}"})
        context = ssl.create_default_context(cafile=str(self.kube.dir / "certs" / "apiserver.crt"))
        with urllib.request.urlopen(request, timeout=60, context=context) as stream:
            for line in stream:
                obj = json.loads(line)["object"]
                if obj.get("kind") == "AppModernization" and self.seen(obj):
                    self.act(obj)
                    self.found = obj
                    return
