"""Slack notifications: render(alert) -> blocks, destinations over slack_sdk, the outbox worker."""

from tagwatch.notify.delivery import Delivered, DeliveryError, Destination
from tagwatch.notify.outbox import alert_on_move, enqueue_alerts, enqueue_skew
from tagwatch.notify.render import render
from tagwatch.notify.slack import BotDestination, WebhookDestination
from tagwatch.notify.threads import MemoryThreadRoots, ThreadRoots
from tagwatch.notify.worker import DeliveryReport, Pacer, deliver_due

__all__ = [
    "BotDestination",
    "Delivered",
    "DeliveryError",
    "DeliveryReport",
    "Destination",
    "MemoryThreadRoots",
    "Pacer",
    "ThreadRoots",
    "WebhookDestination",
    "alert_on_move",
    "deliver_due",
    "enqueue_alerts",
    "enqueue_skew",
    "render",
]
