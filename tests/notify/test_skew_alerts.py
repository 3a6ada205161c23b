"""A real skew finding (find_skew) becomes one alert and one readable message."""

from __future__ import annotations

import json

from tagwatch.core.alerts import AlertKind, alerts_for_skew
from tagwatch.core.routes import Route
from tagwatch.notify.render import render
from tests.notify.factories import A, B
from tests.notify.scenes import skewed as _finding
from tests.support.blockkit import validated


def test_a_real_skew_finding_alerts_once_with_pods_nodes_and_the_fix() -> None:
    finding = _finding()
    routes = [Route("alerts", patterns=("*:prod",))]
    [alert] = alerts_for_skew(finding, cluster="c", builds={}, routes=routes, labels={})
    assert alert.kind is AlertKind.SKEW
    again = alerts_for_skew(_finding(), cluster="c", builds={}, routes=[Route("alerts")], labels={})
    assert again[0].key == alert.key
    text, blocks = render(alert)
    body = json.dumps(blocks)
    assert "deployment/web" in text
    assert "web-7d9f-aaaaa" in body and "node-1" in body
    assert "web-7d9f-bbbbb" in body and "node-2" in body
    assert str(A) in body and str(B) in body
    assert "kubectl rollout restart deployment/web -n shop" in body
    # One spelling of the pin, the one `tagwatch pin` writes: the tag stays, with the digest.
    assert f"image: ghcr.io/org/app:prod@{B}" in body
    assert "image: ghcr.io/org/app@" not in body
    assert len(validated(blocks)) <= 50
