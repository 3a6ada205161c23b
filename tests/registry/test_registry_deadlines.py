"""Deadlines: a host that drips, hangs or hangs up never holds a check past its deadline."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagwatch.cli.main import app
from tagwatch.core.references import ImageRef
from tagwatch.errors import DeadlineExceeded, RegistryUnavailable
from tagwatch.registry import RegistryClient, RegistrySettings
from tests.support.slow_registry import DIGEST, SlowRegistry


def client_for(
    server: SlowRegistry, *, request: float = 1.0, check: float = 3.0, timeout: float = 10.0
) -> RegistryClient:
    settings = RegistrySettings(request_deadline=request, check_deadline=check)
    return RegistryClient(
        settings={server.host: settings}, max_retries=4, retry_base=0.05, timeout=timeout
    )


def ref(server: SlowRegistry, tag: str = "prod") -> ImageRef:
    return ImageRef.parse(f"{server.host}/team/app:{tag}")


async def observe(client: RegistryClient, target: ImageRef) -> object:
    return await client.observe(target, known=lambda d: True, now=lambda: datetime.now(UTC))


@pytest.mark.parametrize("mode", ["drip", "hang"])
async def test_a_host_that_drips_or_hangs_fails_the_check_at_its_deadline(mode: str) -> None:
    with SlowRegistry(mode, interval=0.2) as server:  # type: ignore[arg-type]
        async with client_for(server, request=1.0, check=3.0) as client:
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded) as caught:
                await observe(client, ref(server))
            elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 4.0, elapsed
    assert caught.value.registry == server.host and caught.value.deadline in (1.0, 3.0)


async def test_one_exchange_is_bounded_by_the_request_deadline_however_slowly_it_drips() -> None:
    with SlowRegistry("drip", interval=0.1) as server:
        async with client_for(server, request=0.5, check=30.0) as client:
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded, match=r"0\.5 s"):
                await client.resolve(ref(server))
    # a miss is not retried: the next check probes the host again
    assert time.monotonic() - started < 1.5


async def test_a_host_that_hangs_up_is_unavailable_not_stuck() -> None:
    with SlowRegistry("close") as server:
        async with client_for(server) as client:
            with pytest.raises(RegistryUnavailable) as caught:
                await observe(client, ref(server))
            assert not isinstance(caught.value, DeadlineExceeded)
            assert client.stuck_hosts == {}
    assert server.accepted >= 2  # retried


@pytest.mark.parametrize(
    ("request_deadline", "read_timeout"),
    [(1.0, 10.0), (30.0, 0.5)],  # the total deadline, or httpx's read timeout, comes first
)
async def test_a_stuck_host_fails_its_other_checks_at_once_and_recovers_when_it_answers(
    request_deadline: float, read_timeout: float
) -> None:
    with SlowRegistry("hang") as server:
        async with client_for(
            server, request=request_deadline, check=2.0, timeout=read_timeout
        ) as client:
            refs = [ref(server, f"t{i}") for i in range(40)]
            started = time.monotonic()
            outcomes = await asyncio.gather(
                *(observe(client, r) for r in refs), return_exceptions=True
            )
            elapsed = time.monotonic() - started
            assert all(isinstance(o, RegistryUnavailable) for o in outcomes), outcomes
            # 40 tags, 8 at a time, would take 5 check deadlines (10 s) if each waited its own
            assert elapsed < 4.0, elapsed
            assert set(client.stuck_hosts) == {server.host}
            server.mode = "ok"
            observation = await observe(client, refs[0])
            assert observation.digest == DIGEST  # type: ignore[attr-defined]
            assert client.stuck_hosts == {}


def test_tagwatch_check_on_a_dripping_registry_ends_at_its_deadline_with_one_line(
    tmp_path: Path,
) -> None:
    with SlowRegistry("drip", interval=0.2) as server:
        config = tmp_path / "tagwatch.yaml"
        config.write_text(
            f'registries:\n  "{server.host}":\n    request_deadline: 1s\n    check_deadline: 2s\n'
        )
        db = f"sqlite:///{tmp_path / 'tw.db'}"
        started = time.monotonic()
        result = CliRunner().invoke(
            app, ["check", str(ref(server)), "--config", str(config), "--db", db]
        )
        elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert elapsed < 5.0, elapsed
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert "no complete answer within 1 s" in line and server.host in line
