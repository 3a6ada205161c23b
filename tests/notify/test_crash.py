"""kill -9 of a worker after Slack took its message: the restarted worker does not post it again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from tagwatch.notify.slack import BotDestination
from tagwatch.notify.worker import Pacer, deliver_due
from tagwatch.store import Store
from tests.notify.factories import T0, move_alert
from tests.support.slack import VALID_TOKEN, FakeSlack

ROOT = Path(__file__).resolve().parents[2]
WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import datetime
    from tagwatch.notify.slack import BotDestination
    from tagwatch.notify.worker import deliver_due
    from tagwatch.store import Store

    url, api, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
    dest = BotDestination("alerts", token=sys.argv[4], channel="C-ALERTS", base_url=api, timeout=30)
    asyncio.run(deliver_due(Store.open(url), destinations={"alerts": dest}, now=lambda: now,
                            worker="doomed"))
    """
)


def test_kill_9_between_slack_ok_and_the_mark_does_not_repeat_the_message(
    store_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    store = Store.open(store_url)
    try:
        alert = move_alert()
        with store.begin() as tx:
            tx.outbox.enqueue(
                key=alert.key,
                destination="alerts",
                kind=alert.kind.value,
                payload=alert.payload,
                now=T0,
            )
        slack.script("chat.postMessage", "accept-hang")
        child = subprocess.Popen(
            [sys.executable, "-c", WORKER, store_url, slack.api_url, T0.isoformat(), VALID_TOKEN],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            posts = slack.wait_for_posts(1, timeout=30)
            assert len(posts) == 1, "the worker process never reached Slack"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            output = child.communicate(timeout=10)[0].decode()
        assert child.returncode == -signal.SIGKILL, output

        with store.begin() as tx:
            assert tx.outbox.depth() == 1  # not delivered as far as the outbox knows
        restarted = BotDestination(
            "alerts", token=VALID_TOKEN, channel="C-ALERTS", base_url=slack.api_url, timeout=2
        )
        report = asyncio.run(
            deliver_due(
                store,
                destinations={"alerts": restarted},
                now=lambda: T0 + timedelta(seconds=121),
                worker="restarted",
                pacer=Pacer(interval=0),
            )
        )
        assert (report.claimed, report.duplicates, report.delivered) == (1, 1, 0)
        assert len(slack.posts) == 1
        with store.begin() as tx:
            assert tx.outbox.depth() == 0
    finally:
        store.close()
