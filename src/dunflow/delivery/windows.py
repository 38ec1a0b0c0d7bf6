"""Send windows for the delivery code: the window of a message's channel, the debtor's zone, and when to retry.

`deferral(uow, message, channels, default_zone, now)` is what the sender asks before delivering a message: None
means deliver now; a datetime means leave the message pending with `next_attempt_at` set to it (no attempt is
counted, it is not a failure). The pure rule is `dunflow.domain.windows.next_opening`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dunflow.domain.windows import Window, next_opening, parse_window, zone_for
from dunflow.store.uow import UnitOfWork


def window_of(channels: dict[str, Any], channel: str) -> Window | None:
    """The send window configured for `channel` in dunflow.yaml's `channels:` block, if any."""
    config = channels.get(channel) or {}
    window = config.get("window") if isinstance(config, dict) else None
    return parse_window(window) if window else None


def debtor_zone(uow: UnitOfWork, message: dict[str, Any], default_zone: str) -> str:
    """The IANA zone of the message's debtor: by country, else the project's `timezone`, else UTC."""
    return zone_for(uow.invoices.debtor(message["debtor_id"]).country or "", default_zone)


def deferral(uow: UnitOfWork, message: dict[str, Any], channels: dict[str, Any], default_zone: str,
             now: datetime) -> datetime | None:
    """None: the message's channel may reach its debtor now; else when its window next opens (UTC)."""
    window = window_of(channels, message["channel"])
    if window is None:
        return None
    return next_opening(now, window, debtor_zone(uow, message, default_zone))
