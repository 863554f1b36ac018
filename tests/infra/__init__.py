"""A test environment of real parts: Kubernetes API server, moto, registries, PostgreSQL, dockerd.

Each part is a class in its own module with `missing()` (why it cannot run here, or None), `start()`
and `stop()`. pytest fixtures in tests/conftest.py start a part once per session, only when a
selected test asks for it; `python -m tests.infra up|down|env` starts them by hand.
"""
