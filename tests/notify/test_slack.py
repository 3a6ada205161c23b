"""Slack destinations through the real slack_sdk clients against a local fake Slack."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient

from tagwatch.core.moves import Change
from tagwatch.core.references import ImageRef
from tagwatch.errors import StoreError
from tagwatch.notify.delivery import DeliveryError
from tagwatch.notify.render import render
from tagwatch.notify.sdk import parse_retry_after
from tagwatch.notify.slack import METADATA_EVENT, BotDestination, WebhookDestination
from tagwatch.store import SlackThreads, Store
from tests.notify.factories import A, B, C, move_alert
from tests.support.blockkit import validated
from tests.support.slack import VALID_TOKEN, FakeSlack

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_a_bot_posts_the_rendered_alert_with_its_key_in_metadata(
    slack: FakeSlack, bot: BotDestination
) -> None:
    alert = move_alert()
    delivered = bot.deliver(alert, resend=False, now=NOW)
    [post] = slack.posts
    assert delivered.ts == post.ts and delivered.channel == "C-ALERTS"
    assert post.channel == "C-ALERTS" and post.thread_ts is None
    assert post.blocks[0]["type"] == "header"
    assert "re-pushed" in post.text
    assert post.metadata == {
        "event_type": METADATA_EVENT,
        "event_payload": {"key": alert.key, "thread": "ghcr.io/org/app:prod"},
    }


def test_follow_ups_for_the_same_tag_go_in_its_thread(
    slack: FakeSlack, bot: BotDestination
) -> None:
    first = bot.deliver(move_alert(old=A, new=B), resend=False, now=NOW)
    bot.deliver(move_alert(Change.REPOINTED, old=B, new=A, minutes=10), resend=False, now=NOW)
    other = move_alert(ref=ImageRef.parse("x/y:1"))
    bot.deliver(other, resend=False, now=NOW)
    posts = slack.posts
    assert posts[1].thread_ts == first.ts
    assert posts[2].thread_ts is None


def test_a_restarted_bot_finds_the_tag_thread_in_channel_history(
    slack: FakeSlack, bot: BotDestination
) -> None:
    first = bot.deliver(move_alert(old=A, new=B), resend=False, now=NOW)
    fresh = BotDestination(
        "alerts", token=VALID_TOKEN, channel="C-ALERTS", base_url=slack.api_url, timeout=0.5
    )
    fresh.deliver(move_alert(old=B, new=C, minutes=10), resend=False, now=NOW)
    assert slack.posts[1].thread_ts == first.ts


def test_a_resent_alert_already_in_the_channel_is_not_posted_again(
    slack: FakeSlack, bot: BotDestination
) -> None:
    alert = move_alert()
    bot.deliver(alert, resend=False, now=NOW)
    fresh = BotDestination(
        "alerts", token=VALID_TOKEN, channel="C-ALERTS", base_url=slack.api_url, timeout=0.5
    )
    again = fresh.deliver(alert, resend=True, now=NOW)
    assert again.duplicate and again.ts == slack.posts[0].ts
    assert len(slack.posts) == 1


def test_a_resent_follow_up_is_found_in_its_thread(slack: FakeSlack, bot: BotDestination) -> None:
    bot.deliver(move_alert(old=A, new=B), resend=False, now=NOW)
    follow = move_alert(old=B, new=C, minutes=10)
    bot.deliver(follow, resend=False, now=NOW)
    assert bot.deliver(follow, resend=True, now=NOW).duplicate
    assert len(slack.posts) == 2


def test_a_bot_given_a_channel_name_reads_history_by_the_channel_id(slack: FakeSlack) -> None:
    named = BotDestination(
        "alerts", token=VALID_TOKEN, channel="#alerts", base_url=slack.api_url, timeout=0.5
    )
    alert = move_alert()
    assert named.deliver(alert, resend=False, now=NOW).channel == "C-ALERTS"
    assert named.deliver(alert, resend=True, now=NOW).duplicate
    assert len(slack.posts) == 1


def test_a_deleted_thread_start_gets_a_new_thread(slack: FakeSlack, bot: BotDestination) -> None:
    first = bot.deliver(move_alert(old=A, new=B), resend=False, now=NOW)
    slack.delete(str(first.ts))
    follow = move_alert(old=B, new=C, minutes=10)
    delivered = bot.deliver(follow, resend=True, now=NOW)
    assert not delivered.duplicate
    [post] = slack.posts
    assert post.ts == delivered.ts and post.thread_ts is None


def test_a_resent_alert_that_never_arrived_is_posted(slack: FakeSlack, bot: BotDestination) -> None:
    delivered = bot.deliver(move_alert(), resend=True, now=NOW)
    assert not delivered.duplicate and len(slack.posts) == 1


def test_invalid_auth_is_a_permanent_failure(slack: FakeSlack) -> None:
    wrong = BotDestination("alerts", token="xoxb-wrong", channel="C-ALERTS", base_url=slack.api_url)
    with pytest.raises(DeliveryError) as info:
        wrong.deliver(move_alert(), resend=False, now=NOW)
    assert info.value.permanent and "invalid_auth" in str(info.value)
    assert "xoxb-wrong" not in str(info.value)


def test_an_unknown_channel_is_a_permanent_failure(slack: FakeSlack) -> None:
    nowhere = BotDestination(
        "alerts", token=VALID_TOKEN, channel="C-GONE", base_url=slack.api_url, threads=False
    )
    with pytest.raises(DeliveryError) as info:
        nowhere.deliver(move_alert(), resend=False, now=NOW)
    assert info.value.permanent and "channel_not_found" in str(info.value)


def test_a_long_retry_after_is_returned_to_the_caller(
    slack: FakeSlack, bot: BotDestination
) -> None:
    slack.script("chat.postMessage", "429:30")
    with pytest.raises(DeliveryError) as info:
        bot.deliver(move_alert(), resend=False, now=NOW)
    assert not info.value.permanent and info.value.retry_after == 30
    assert slack.posts == []


def test_a_short_retry_after_is_waited_out_by_the_sdk(
    slack: FakeSlack, bot: BotDestination
) -> None:
    slack.script("chat.postMessage", "429:0")
    bot.deliver(move_alert(), resend=False, now=NOW)
    assert len(slack.posts) == 1
    assert slack.calls("chat.postMessage") == ["chat.postMessage"] * 2


def test_a_500_is_retried_by_the_sdk_then_succeeds(slack: FakeSlack, bot: BotDestination) -> None:
    slack.script("chat.postMessage", "500")
    bot.deliver(move_alert(), resend=False, now=NOW)
    assert len(slack.posts) == 1


def test_a_500_that_persists_is_retryable(slack: FakeSlack, bot: BotDestination) -> None:
    slack.script("chat.postMessage", "500", "503")
    with pytest.raises(DeliveryError) as info:
        bot.deliver(move_alert(), resend=False, now=NOW)
    assert not info.value.permanent and info.value.retry_after is None


def test_a_hanging_slack_times_out_as_retryable(slack: FakeSlack, bot: BotDestination) -> None:
    # The fake answers `too_late` once it stops hanging: "timed out" means the client's own
    # 0.5 s timeout ended the wait, not the server.
    slack.script("chat.postMessage", "hang")
    with pytest.raises(DeliveryError) as info:
        bot.deliver(move_alert(), resend=False, now=NOW)
    assert not info.value.permanent and "timed out" in str(info.value)
    assert "too_late" not in str(info.value)
    assert slack.calls("chat.postMessage") == ["chat.postMessage"]  # abandoned, not retried


def test_a_dropped_answer_is_not_retried_blindly_but_looked_up(
    slack: FakeSlack, bot: BotDestination
) -> None:
    alert = move_alert()
    slack.script("chat.postMessage", "accept-drop")
    with pytest.raises(DeliveryError) as info:
        bot.deliver(alert, resend=False, now=NOW)
    assert not info.value.permanent
    assert len(slack.posts) == 1  # the SDK did not post it a second time
    assert bot.deliver(alert, resend=True, now=NOW).duplicate
    assert len(slack.posts) == 1


def test_a_webhook_posts_the_blocks(slack: FakeSlack, hook: WebhookDestination) -> None:
    delivered = hook.deliver(move_alert(), resend=False, now=NOW)
    [body] = slack.webhook_posts
    assert delivered.ts is None
    assert body["blocks"][0]["type"] == "header" and "re-pushed" in body["text"]


def test_a_removed_webhook_no_service_is_permanent(
    slack: FakeSlack, hook: WebhookDestination
) -> None:
    slack.script("webhook", "404")
    with pytest.raises(DeliveryError) as info:
        hook.deliver(move_alert(), resend=False, now=NOW)
    assert info.value.permanent and "no_service" in str(info.value)
    assert "secretwebhookpart" not in str(info.value)


def test_a_rate_limited_webhook_says_when_to_retry(
    slack: FakeSlack, hook: WebhookDestination
) -> None:
    slack.script("webhook", "429:20")
    with pytest.raises(DeliveryError) as info:
        hook.deliver(move_alert(), resend=False, now=NOW)
    assert not info.value.permanent and info.value.retry_after == 20


def test_a_webhook_500_is_retried_by_the_sdk(slack: FakeSlack, hook: WebhookDestination) -> None:
    slack.script("webhook", "500")
    hook.deliver(move_alert(), resend=False, now=NOW)
    assert len(slack.webhook_posts) == 1


def test_a_hanging_webhook_times_out_as_retryable(
    slack: FakeSlack, hook: WebhookDestination
) -> None:
    slack.script("webhook", "hang")
    with pytest.raises(DeliveryError) as info:
        hook.deliver(move_alert(), resend=False, now=NOW)
    assert not info.value.permanent


def test_a_refused_connection_is_retryable() -> None:
    gone = WebhookDestination("gone", url="http://127.0.0.1:9/hook", timeout=0.5)
    with pytest.raises(DeliveryError) as info:
        gone.deliver(move_alert(), resend=False, now=NOW)
    assert not info.value.permanent


def test_tokens_and_webhook_urls_never_reach_the_logs(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = BotDestination("alerts", token=VALID_TOKEN, channel="C-ALERTS", base_url=slack.api_url)
    hook = WebhookDestination("hook", url=slack.webhook_url)
    bot.deliver(move_alert(), resend=True, now=NOW)
    hook.deliver(move_alert(), resend=False, now=NOW)
    slack.script("webhook", "404")
    with pytest.raises(DeliveryError):
        hook.deliver(move_alert(), resend=False, now=NOW)
    assert caplog.records, "the SDK's debug logs should have been captured"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert VALID_TOKEN not in logged and "secretwebhookpart" not in logged
    assert VALID_TOKEN not in repr(bot) and "secretwebhookpart" not in repr(hook)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("Sun, 01 Nov 2026 12:00:30 GMT", 30.0),
        (str(int((NOW + timedelta(seconds=45)).timestamp())), 45.0),
        ("999999", 3600.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_comes_as_seconds_http_date_or_epoch(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def _named(slack: FakeSlack, channel: str = "#alerts", **kwargs: Any) -> BotDestination:
    return BotDestination(
        "alerts", token=VALID_TOKEN, channel=channel, base_url=slack.api_url, timeout=0.5, **kwargs
    )


def test_conversations_history_refuses_a_channel_name_as_slack_does(slack: FakeSlack) -> None:
    client = WebClient(token=VALID_TOKEN, base_url=slack.api_url)
    client.chat_postMessage(channel="#alerts", text="hello")
    for method in ("conversations.history", "conversations.replies"):
        with pytest.raises(SlackApiError) as info:
            client.api_call(method, http_verb="GET", params={"channel": "#alerts", "ts": "1"})
        assert info.value.response["error"] == "channel_not_found"


def test_a_channel_name_is_resolved_once_through_every_page_of_conversations_list(
    slack: FakeSlack,
) -> None:
    named = _named(slack)
    first = named.deliver(move_alert(old=A, new=B), resend=False, now=NOW)
    named.deliver(move_alert(old=B, new=C, minutes=10), resend=False, now=NOW)
    named.deliver(move_alert(ref=ImageRef.parse("x/y:1")), resend=True, now=NOW)
    # Five channels, two a page: #alerts is on the third page.
    assert slack.calls("conversations.list") == ["conversations.list"] * 3
    assert first.channel == "C-ALERTS"
    assert [p.channel for p in slack.posts] == ["C-ALERTS"] * 3
    assert slack.posts[1].thread_ts == first.ts


def test_a_name_without_a_hash_is_a_name_too(slack: FakeSlack) -> None:
    delivered = _named(slack, "alerts").deliver(move_alert(), resend=True, now=NOW)
    assert delivered.channel == "C-ALERTS" and not delivered.duplicate
    assert slack.calls("conversations.list")


def test_without_channels_read_the_channel_id_comes_from_the_first_post(
    slack: FakeSlack,
) -> None:
    slack.script("conversations.list", "missing_scope")
    named = _named(slack)
    first = named.deliver(move_alert(old=A, new=B), resend=False, now=NOW)
    follow = move_alert(old=B, new=C, minutes=10)
    named.deliver(follow, resend=False, now=NOW)
    assert named.deliver(follow, resend=True, now=NOW).duplicate
    assert slack.posts[1].thread_ts == first.ts and len(slack.posts) == 2
    assert slack.calls("conversations.list") == ["conversations.list"]  # not asked again


def test_a_channel_name_no_one_has_is_a_permanent_failure(slack: FakeSlack) -> None:
    with pytest.raises(DeliveryError) as info:
        _named(slack, "#nowhere").deliver(move_alert(), resend=False, now=NOW)
    assert info.value.permanent and "channel_not_found" in str(info.value)


def test_thread_roots_kept_in_the_store_survive_a_restart(slack: FakeSlack, store: Store) -> None:
    first = _named(slack, roots=SlackThreads(store)).deliver(move_alert(), resend=False, now=NOW)
    with store.begin() as tx:
        assert tx.thread_root("C-ALERTS", "ghcr.io/org/app:prod") == first.ts
    read = len(slack.calls("conversations.history"))
    # A restarted service whose token cannot read history still finds the thread.
    slack.script("conversations.history", "missing_scope")
    restarted = _named(slack, roots=SlackThreads(store))
    restarted.deliver(move_alert(old=B, new=C, minutes=10), resend=False, now=NOW)
    assert slack.posts[1].thread_ts == first.ts
    assert len(slack.calls("conversations.history")) == read  # the store answered


def test_replicas_sharing_a_store_share_threads(slack: FakeSlack, store: Store) -> None:
    one = _named(slack, "C-ALERTS", roots=SlackThreads(store))
    two = _named(slack, "#alerts", roots=SlackThreads(store))
    first = one.deliver(move_alert(), resend=False, now=NOW)
    two.deliver(move_alert(old=B, new=C, minutes=10), resend=False, now=NOW)
    assert slack.posts[1].thread_ts == first.ts


def test_a_deleted_thread_root_is_replaced_in_the_store(slack: FakeSlack, store: Store) -> None:
    bot = _named(slack, roots=SlackThreads(store))
    first = bot.deliver(move_alert(), resend=False, now=NOW)
    slack.delete(str(first.ts))
    again = bot.deliver(move_alert(old=B, new=C, minutes=10), resend=False, now=NOW)
    assert slack.posts[-1].thread_ts is None
    with store.begin() as tx:
        assert tx.thread_root("C-ALERTS", "ghcr.io/org/app:prod") == again.ts


def test_the_first_root_kept_wins_a_race(store: Store) -> None:
    roots = SlackThreads(store)
    assert roots.keep("C1", "t", "1.0", now=NOW) == "1.0"
    assert roots.keep("C1", "t", "2.0", now=NOW) == "1.0"
    roots.forget("C1", "t", "2.0")  # not the kept root: left alone
    assert roots.root("C1", "t") == "1.0"
    roots.forget("C1", "t", "1.0")
    assert roots.root("C1", "t") is None


def test_a_webhook_gets_the_same_blocks_as_a_bot_and_a_text_fallback(
    slack: FakeSlack, bot: BotDestination, hook: WebhookDestination
) -> None:
    alert = move_alert()
    bot.deliver(alert, resend=False, now=NOW)
    hook.deliver(alert, resend=False, now=NOW)
    [post], [body] = slack.posts, slack.webhook_posts
    text, blocks = render(alert)
    assert post.blocks == validated(blocks) == body["blocks"]
    assert post.text == body["text"] == text and text.startswith("ghcr.io/org/app:prod was")


def test_blocks_slack_would_refuse_are_a_permanent_failure(slack: FakeSlack) -> None:
    client = WebClient(token=VALID_TOKEN, base_url=slack.api_url)
    too_long = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C-ALERTS", text="x", blocks=too_long)
    assert info.value.response["error"] == "invalid_blocks" and slack.posts == []


def test_the_service_destinations_keep_thread_roots_in_its_database(
    slack: FakeSlack, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tagwatch.app.delivery import build_destinations
    from tagwatch.app.settings import load_settings

    config = tmp_path / "tagwatch.yaml"
    config.write_text(
        "slack:\n"
        "  bot_token_env: TEST_SLACK_TOKEN\n"
        f"  base_url: {slack.api_url}\n"
        "  default_channel: '#alerts'\n"
    )
    monkeypatch.setenv("TEST_SLACK_TOKEN", VALID_TOKEN)
    settings = load_settings(config)
    [first] = build_destinations(settings, store=store).values()
    posted = first.deliver(move_alert(destination="#alerts"), resend=False, now=NOW)
    slack.script("conversations.history", "missing_scope")
    [restarted] = build_destinations(settings, store=store).values()
    restarted.deliver(move_alert(old=B, new=C, minutes=10), resend=False, now=NOW)
    assert slack.posts[1].thread_ts == posted.ts
    assert SlackThreads(store).root("C-ALERTS", "ghcr.io/org/app:prod") == posted.ts


class _DownStore:
    """Thread roots whose database is unreachable."""

    def root(self, channel: str, thread: str) -> str | None:
        raise StoreError("database sqlite:///gone.db: unable to open database file")

    def keep(self, channel: str, thread: str, ts: str, *, now: datetime) -> str:
        raise StoreError("database sqlite:///gone.db: unable to open database file")

    def forget(self, channel: str, thread: str, ts: str) -> None:
        raise StoreError("database sqlite:///gone.db: unable to open database file")


def test_unreadable_thread_roots_delay_the_message_instead_of_splitting_the_thread(
    slack: FakeSlack,
) -> None:
    down = _named(slack, "C-ALERTS", roots=_DownStore())
    with pytest.raises(DeliveryError) as info:
        down.deliver(move_alert(), resend=False, now=NOW)
    assert not info.value.permanent and "cannot read thread roots" in str(info.value)
    assert slack.posts == []
