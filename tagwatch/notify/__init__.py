"""Slack notifications: render(alert) -> blocks, destinations over slack_sdk, the outbox worker."""

from tagwatch.notify.outbox import alert_on_move, enqueue_alerts, enqueue_skew
from tagwatch.notify.render import render
from tagwatch.notify.slack import (
    BotDestination,
    Delivered,
    DeliveryError,
    Destination,
    WebhookDestination,
)
from tagwatch.notify.worker import DeliveryReport, Pacer, deliver_due

__all__ = [
    "BotDestination",
    "Delivered",
    "DeliveryError",
    "DeliveryReport",
    "Destination",
    "Pacer",
    "WebhookDestination",
    "alert_on_move",
    "deliver_due",
    "enqueue_alerts",
    "enqueue_skew",
    "render",
]
