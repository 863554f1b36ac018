"""Error classes shared by every layer; the leaf of the import graph.

A `UserError` means the reconcile cannot progress until a person changes something (it becomes
`Stalled=True` with the message), as opposed to a transient failure that is retried.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem only a change by the user can fix. `reason` is the condition reason (CamelCase)."""

    reason = "UserError"


class SpecError(UserError):
    """A spec that passed the CRD schema but is still wrong; names the offending field."""

    reason = "InvalidSpec"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class ConfigError(Exception):
    """A setting (environment variable or flag) that cannot be parsed; names the setting."""

    def __init__(self, setting: str, message: str):
        super().__init__(f"{setting}: {message}")
        self.setting = setting
