"""Typed engine errors: each says what went wrong in words a trader can act on."""

from __future__ import annotations


class ZdteError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(ZdteError):
    """The configuration cannot be used; the message names the file and the key."""


class DataError(ZdteError):
    """Market data is missing, stale or malformed; never replaced by invented prices."""


class BrokerError(ZdteError):
    """The broker refused or failed a request. `transient` errors may clear by themselves."""

    def __init__(self, message: str, *, transient: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class AuthError(BrokerError):
    """The keys are missing or were refused (401/403): nothing works until they are fixed."""


class OrderRejected(BrokerError):
    """The broker rejected an order outright (e.g. after the expiry-day cut-off)."""


class UnsafeEndpointError(ZdteError):
    """A live (non-paper) account or endpoint was configured; the engine trades paper only."""
