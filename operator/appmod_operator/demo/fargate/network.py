"""A task's network, as `awsvpc` gives each Fargate task one of its own: the network namespace of the
task's pause container, holding nothing but loopback. What the VPC would route for the task (the
database's endpoint, AWS's API endpoints, the registries) is forwarded from that namespace's loopback
to the test parts on the host's; the container's ports are published on 127.0.0.1 of the host, as
`docker run -p 127.0.0.1::PORT` would (dockerd runs here without a bridge, so docker cannot).

A socket belongs to the network namespace of the thread that made it, whichever thread uses it later,
so a short-lived thread enters the task's namespace (setns(2), as root) to make each socket there.
Used by containers.py; nothing here knows about ECS.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping

CLONE_NEWNET = 0x40000000
CHUNK = 1 << 16
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def in_namespace(pid: int, make: Callable[[], socket.socket]) -> socket.socket:
    """`make()` run on a thread inside the network namespace of process `pid`."""
    made: dict = {}

    def enter_and_make() -> None:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                made["error"] = OSError(ctypes.get_errno(), f"setns into the network namespace of pid {pid}")
                return
        finally:
            os.close(fd)
        try:
            made["socket"] = make()
        except OSError as e:
            made["error"] = e

    thread = threading.Thread(target=enter_and_make, name=f"netns {pid}")
    thread.start()
    thread.join()
    if "error" in made:
        raise made["error"]
    return made["socket"]


class TaskNetwork:
    """The forwarding for one task: `routes` maps a port on the task's loopback to a (host, port) on the
    host's; `published` are the task's container ports, each reachable at 127.0.0.1:`ports[p]`."""

    def __init__(self, pid: int, routes: Mapping[int, tuple[str, int]], published: Iterable[int]):
        self.pid = pid
        self.ports: dict[int, int] = {}
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        for port, target in routes.items():
            listener = in_namespace(pid, lambda port=port: socket.create_server(("127.0.0.1", port)))
            self._serve(listener, lambda target=target: socket.create_connection(target, timeout=10))
        for port in published:
            listener = socket.create_server(("127.0.0.1", 0))
            self.ports[port] = listener.getsockname()[1]
            self._serve(listener, lambda port=port: self._connect_inside(port))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets, self._open = list(self._open), set()
        for s in sockets:
            _close(s)

    def _connect_inside(self, port: int) -> socket.socket:
        inside = in_namespace(self.pid, socket.socket)
        inside.settimeout(10)
        try:
            inside.connect(("127.0.0.1", port))
        except OSError:
            inside.close()
            raise
        return inside

    def _serve(self, listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
        self._keep(listener)
        threading.Thread(target=self._accept, args=(listener, connect), daemon=True,
                         name=f"task network {self.pid}").start()

    def _accept(self, listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed
                return
            try:
                self._keep(client)
                upstream = connect()
            except OSError:  # closed, or nothing listens there (yet): the client sees its connection end
                self._drop(client)
                continue
            upstream.settimeout(None)
            try:
                self._keep(upstream)
            except OSError:
                self._drop(client)
                return
            directions = [2]  # the pair is closed once both directions have ended
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, directions), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, directions: list[int]) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:
            directions[0] -= 1
            if directions[0]:
                return
        self._drop(source)
        self._drop(sink)

    def _keep(self, s: socket.socket) -> None:
        with self._lock:
            if self._closed:
                _close(s)
                raise OSError("the task's network is closed")
            self._open.add(s)

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        _close(s)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.close()
