"""How a channel says a delivery failed, so the sender knows whether trying again can help.

A channel's `deliver(message) -> str` returns where the message went, or raises one of these. Anything else a
channel raises is a bug in that channel and is treated as temporary (the message is retried, then dead).
"""
from __future__ import annotations


class DeliveryFailure(Exception):
    """A delivery that did not happen; `reason` is shown in `dunflow outbox` and in `send`'s summary."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryFailure(DeliveryFailure):
    """Worth another attempt later: a network error, a timeout, a 5xx answer, a full mailbox server queue."""


class PermanentFailure(DeliveryFailure):
    """No retry can help: the receiver refused the message (4xx, a rejected recipient, an invalid message)."""

    permanent = True
