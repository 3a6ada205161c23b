"""What an operator watches: metrics that say what they count, health that restarts a wedged
service, readiness that says why not, and logs without one line per HTTP request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tagwatch import __version__
from tagwatch.app.settings import load_settings
from tests.support.registry import TestRegistry
from tests.support.services import eventually, free_port, running, service_config

# Labels every metric may carry without its help text naming them.
_IMPLICIT_LABELS = {"le", "version", "python"}


async def test_metrics_are_typed_counted_and_say_what_their_labels_are(
    registry: TestRegistry, repo_name: str, tmp_path: Path, secrets_env: None
) -> None:
    registry.push_image(repo_name, "v1", content="one")
    ref = f"{registry.host}/{repo_name}:v1"
    path = service_config(
        tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[{"ref": ref, "interval": "200ms"}]
    )
    async with running(load_settings(path)) as svc:
        await eventually(lambda: svc.service.last_cycle is not None)
        before = time.time()
        metrics = svc.service.metrics.registry
        await eventually(
            lambda: (metrics.get_sample_value("tagwatch_registry_requests_total") or 0) >= 2
        )
        text = (await svc.client.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "_created" not in text
    assert families["tagwatch_registry_requests"].type == "counter"
    assert "tagwatch_registry_requests_total" in text
    [build] = families["tagwatch_build_info"].samples
    assert build.labels["version"] == __version__ and build.value == 1
    [last] = [
        s
        for s in families["tagwatch_watch_last_success_timestamp_seconds"].samples
        if s.labels["ref"] == ref
    ]
    assert before - 60 < last.value <= time.time()
    assert families["tagwatch_outbox_oldest_age_seconds"].samples[0].value == 0
    for family in families.values():
        labels = {k for s in family.samples for k in s.labels} - _IMPLICIT_LABELS
        missing = {label for label in labels if label not in family.documentation}
        assert not missing, f"{family.name}: help {family.documentation!r} omits {missing}"


async def test_healthz_fails_when_the_scheduler_stops_ticking(
    tmp_path: Path, secrets_env: None
) -> None:
    path = service_config(tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[])
    async with running(load_settings(path)) as svc:
        await eventually(lambda: svc.service.last_tick is not None)
        assert (await svc.client.get("/healthz")).status_code == 200
        svc.service.scheduler.pause()  # wedged: nothing ticks any more
        real = svc.service.clock
        svc.service.clock = lambda: real() + 120  # two minutes later
        wedged = await svc.client.get("/healthz")
        assert wedged.status_code == 503
        assert "has not ticked for" in wedged.json()["reason"]
        ready = (await svc.client.get("/readyz")).json()
        assert ready["ready"] is False
        assert any("has not ticked for" in r for r in ready["reasons"]), ready


async def test_readyz_says_why_it_is_not_ready(tmp_path: Path, secrets_env: None) -> None:
    path = service_config(tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[])
    async with running(load_settings(path)) as svc:
        assert (await svc.client.get("/readyz")).json()["reasons"] == []
        await svc.service.stop()
        response = await svc.client.get("/readyz")
        assert response.status_code == 503
        assert "the scheduler is not running" in response.json()["reasons"]


def test_the_service_logs_its_address_and_no_request_or_alembic_lines(
    registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    registry.push_image(repo_name, "v1", content="one")
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "tagwatch.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path / 'tw.db'}",
                "listen": listen,
                "watches": [{"ref": f"{registry.host}/{repo_name}:v1", "interval": "200ms"}],
                "scheduler": {"tick": "100ms", "jitter": 0},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAGWATCH_")}
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        service = subprocess.Popen(
            [sys.executable, "-m", "tagwatch", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while "tagwatch_checks_total" not in _metrics(listen) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # several polls, each several HTTP requests
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
    lines = log.read_text().splitlines()
    assert any(f"listening on http://{listen}" in line for line in lines), lines
    assert not [line for line in lines if "HTTP Request" in line or " alembic" in line], lines


def _metrics(listen: str) -> str:
    import httpx

    try:
        return httpx.get(f"http://{listen}/metrics", timeout=1).text
    except httpx.HTTPError:
        return ""
