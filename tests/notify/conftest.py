"""Fixtures for the notify tests: the fake Slack server and destinations pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tagwatch.notify.slack import BotDestination, WebhookDestination
from tests.support.slack import VALID_TOKEN, FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fresh fake Slack (Web API + incoming webhook) on a free loopback port."""
    fake = FakeSlack(hang_seconds=3.0)
    yield fake
    fake.close()


@pytest.fixture
def bot(slack: FakeSlack) -> BotDestination:
    """A bot-token destination posting to channel C-ALERTS of the fake Slack."""
    return BotDestination(
        "alerts", token=VALID_TOKEN, channel="C-ALERTS", base_url=slack.api_url, timeout=0.5
    )


@pytest.fixture
def hook(slack: FakeSlack) -> WebhookDestination:
    """An incoming-webhook destination pointed at the fake Slack."""
    return WebhookDestination("hook", url=slack.webhook_url, timeout=0.5)
