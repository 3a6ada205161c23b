"""The tag timeline shows each digest's signature verdict next to who pushed it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, Observation, Source, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.signing import SignatureStatus, SignatureVerdict
from tagwatch.store import Store
from tests.pages.conftest import AppFactory

REF = ImageRef.parse("ghcr.io/acme/app:prod")
GOOD = Digest.parse("sha256:" + "1" * 64)
BAD = Digest.parse("sha256:" + "2" * 64)


def _record(store: Store, digest: Digest, at: datetime, verdict: SignatureVerdict) -> None:
    seen = Observation(REF, digest, at, Source.WEBHOOK, pushed_by="<i>mallory</i>")
    move = TagMove(REF, Change.MOVED, None, digest, None, at, Source.WEBHOOK)
    with store.begin() as tx:
        tx.record(seen, move)
        tx.record_signature(REF, digest, verdict, at=at)


async def test_each_band_says_whether_its_digest_passed_the_signing_policy(
    make_app: AppFactory, db_url: str, client_for: Callable[[FastAPI], httpx.AsyncClient]
) -> None:
    app = make_app()
    store = Store.open(db_url)
    now = datetime.now(UTC)
    try:
        signed = SignatureVerdict("releases", SignatureStatus.SIGNED, "key 0123abcd (.sig tag)")
        unsigned = SignatureVerdict(
            "releases", SignatureStatus.UNSIGNED, None, "no signature found"
        )
        _record(store, GOOD, now - timedelta(hours=2), signed)
        _record(store, BAD, now - timedelta(hours=1), unsigned)
    finally:
        store.close()
    page = (await client_for(app).get(f"/tags/{REF}")).text
    assert "signed by key 0123abcd (.sig tag) (policy releases)" in page
    assert "unsigned: no signature found (policy releases)" in page
    assert "&lt;i&gt;mallory&lt;/i&gt;" in page and "<i>mallory</i>" not in page
