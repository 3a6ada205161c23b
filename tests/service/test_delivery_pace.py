"""Slack's pace (about a message a second per channel) holds across delivery batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tagwatch.notify import Pacer
from tests.service.test_recorded_moves import _record_move
from tests.support.services import eventually, running, service_config
from tests.support.slack import FakeSlack


async def test_a_second_batch_to_a_channel_waits_for_the_pace_the_first_one_left(
    slack: FakeSlack, tmp_path: Path, secrets_env: None
) -> None:
    path = service_config(tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[], slack=slack)
    async with running(load_settings(path)) as svc:
        waits: list[float] = []

        def posted(count: int) -> Callable[[], bool]:
            return lambda: len(slack.posts) == count

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        # A clock that stands still: any send after the first in a channel must wait 1 s.
        delivery = svc.service.delivery
        delivery.pacer = Pacer(clock=lambda: 100.0, sleep=sleep)
        store = svc.service.store
        for n in range(2):
            ref = ImageRef.parse(f"ghcr.io/org/app:pace{n}")
            await asyncio.to_thread(_record_move, store, ref, datetime.now(UTC))
            await delivery.deliver()  # one batch each (the service's own ticks may take it)
            await eventually(posted(n + 1))
        assert waits == [1.0]  # the second message, in its own batch, kept the pace
