"""A move to a digest that fails its signing policy is an alert of its own, high severity,
routed with the move's routes or to a route that takes `signature_failed` alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from slack_sdk.models.blocks import Block

from tagwatch.app.check import run_check
from tagwatch.app.routing import route_events
from tagwatch.app.signatures import SignatureJudge
from tagwatch.core.alerts import AlertKind, alerts_for_signature
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, Source, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import DEFAULT_CHANGES, PolicyFailure, Route
from tagwatch.core.signing import SignatureStatus, SignatureVerdict, SigningPolicy
from tagwatch.notify.render import render
from tagwatch.registry import RegistryClient
from tagwatch.store import Store
from tests.support.cosign import SigningKey
from tests.support.registry import TestRegistry

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
MOVE = TagMove(
    ref=ImageRef.parse("ghcr.io/acme/app:prod"),
    change=Change.MOVED,
    from_digest=Digest.parse("sha256:" + "a" * 64),
    to_digest=Digest.parse("sha256:" + "b" * 64),
    window_start=NOW - timedelta(minutes=5),
    detected_at=NOW,
    source=Source.WEBHOOK,
    pushed_by="mallory",
)
UNSIGNED = SignatureVerdict("releases", SignatureStatus.UNSIGNED, None, "no signature found")


def _alerts(routes: list[Route], verdict: SignatureVerdict = UNSIGNED) -> list[str]:
    found = alerts_for_signature(MOVE, verdict, before=None, after=None, routes=routes, labels={})
    assert all(a.kind is AlertKind.SIGNATURE for a in found)
    return [a.destination for a in found]


def test_every_route_that_hears_of_a_move_hears_its_digest_failed() -> None:
    assert _alerts(
        [Route("#deploys"), Route("#firsts", changes=frozenset({Change.FIRST_SEEN}))]
    ) == ["#deploys"]


def test_a_route_can_take_signature_failures_alone() -> None:
    security = Route("#security", changes=frozenset({PolicyFailure.SIGNATURE_FAILED}))
    moves_only = Route("#deploys", changes=frozenset({*DEFAULT_CHANGES}))
    assert _alerts([security, moves_only]) == ["#security", "#deploys"]
    both = Route("#both", changes=frozenset({*DEFAULT_CHANGES, PolicyFailure.SIGNATURE_FAILED}))
    assert _alerts([both]) == ["#both"]


def test_a_passing_or_unknown_verdict_alerts_nobody() -> None:
    signed = SignatureVerdict("releases", SignatureStatus.SIGNED, "key 1 (.sig tag)")
    unknown = SignatureVerdict("releases", SignatureStatus.UNKNOWN, None, "registry down")
    assert _alerts([Route("#deploys")], signed) == []
    assert _alerts([Route("#deploys")], unknown) == []


def test_the_signature_alert_leads_with_the_verdict_and_says_who_pushed() -> None:
    [alert] = alerts_for_signature(
        MOVE, UNSIGNED, before=None, after=None, routes=[Route("#sec")], labels={}
    )
    assert alert.payload["severity"] == "high"
    assert alert.key.startswith("signature:")
    text, blocks = render(alert)
    assert text == (
        "High severity: ghcr.io/acme/app:prod now points to sha256:bbbbbbbbbbbb, "
        "which is not signed"
    )
    for block in blocks:
        assert Block.parse(block) is not None  # slack_sdk's models accept every block
    rendered = str(blocks)
    assert "*Signing policy* `releases`: unsigned" in rendered
    assert "no signature found" in rendered
    assert "pushed by `mallory`" in rendered
    # The fix pins the digest before the unsigned one, never the unsigned one itself.
    [fix] = [b for b in blocks if "*Fix*" in str(b)]
    assert f"@{MOVE.from_digest}" in str(fix) and f"@{MOVE.to_digest}" not in str(fix)


async def test_a_recorded_move_to_an_unsigned_digest_is_routed_as_a_signature_alert(
    registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    key = SigningKey.ecdsa()
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    judge = SignatureJudge(
        [SigningPolicy("releases", (f"{registry.host}/*",), public_keys=(key.public_pem,))]
    )
    store = Store.open(f"sqlite:///{tmp_path / 'tw.db'}")
    try:
        registry.push_image(repo_name, "prod", content="v1")
        async with RegistryClient() as client:
            await run_check([ref], registry=client, store=store, signatures=judge)
            registry.push_image(repo_name, "prod", content="v2")  # nobody signs it
            [result] = await run_check([ref], registry=client, store=store, signatures=judge)
        assert result.signature is not None and result.signature.failed
        route_events(
            store,
            routes=[Route("#deploys")],
            watches=[],
            now=datetime.now(UTC),
            max_age=timedelta(days=1),
        )
        with store.begin() as tx:
            items = tx.outbox.claim_due(now=datetime.now(UTC) + timedelta(seconds=1), worker="t")
        kinds = sorted((i.kind, i.payload["change"]) for i in items)
        assert kinds == [("move", "moved"), ("signature", "moved")]
        [signature] = [i for i in items if i.kind == "signature"]
        assert signature.payload["signature"]["reason"] == "no signature found"
        assert signature.payload["to_digest"] == str(result.digest)
    finally:
        store.close()
