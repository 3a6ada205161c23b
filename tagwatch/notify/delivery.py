"""What a destination promises the outbox worker: `deliver` an alert, or raise DeliveryError."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tagwatch.core.alerts import Alert
from tagwatch.errors import NotifyError

__all__ = ["Delivered", "DeliveryError", "Destination"]


class DeliveryError(NotifyError):
    """Slack did not take the message. `.permanent`: only a configuration change helps;
    `.retry_after`: seconds Slack asked us to wait (429), if it said."""

    def __init__(
        self,
        destination: str,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        self.destination = destination
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        super().__init__(f"slack destination {destination!r}: {message}")


@dataclass(frozen=True, slots=True)
class Delivered:
    """Slack took the message: its `ts` and `channel` (None for incoming webhooks), or it was
    already there (`duplicate`: found by its key after an attempt that may have succeeded)."""

    ts: str | None = None
    channel: str | None = None
    duplicate: bool = False


class Destination(Protocol):
    """Somewhere alerts go. `deliver` blocks (the worker runs it in a thread)."""

    name: str

    @property
    def pace_key(self) -> str:
        """Messages with the same pace key (one Slack channel) are sent about one a second."""
        ...

    def deliver(self, alert: Alert, *, resend: bool, now: datetime) -> Delivered:
        """Post `alert`; `resend` says an earlier attempt may have reached Slack. Raises
        DeliveryError."""
        ...
