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
            with pytest.raises(DeadlineExceeded) as caught:
                await observe(client, ref(server))
            assert set(client.stuck_hosts) == {server.host}
    assert caught.value.registry == server.host and caught.value.deadline in (1.0, 3.0)
    assert "no complete answer within 1 s" in str(caught.value)
    assert server.accepted == 1  # abandoned at the deadline, not retried


async def test_one_exchange_is_bounded_by_the_request_deadline_however_slowly_it_drips() -> None:
    with SlowRegistry("drip", interval=0.1) as server:
        async with client_for(server, request=0.5, check=30.0) as client:
            with pytest.raises(DeadlineExceeded, match=r"0\.5 s") as caught:
                await client.resolve(ref(server))
            assert set(client.stuck_hosts) == {server.host}
    assert caught.value.deadline == 0.5  # the exchange's, not the check's 30 s
    # a miss is not retried: the next check probes the host again
    assert server.accepted == 1


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
            outcomes = await asyncio.gather(
                *(observe(client, r) for r in refs), return_exceptions=True
            )
            assert all(isinstance(o, RegistryUnavailable) for o in outcomes), outcomes
            # If each waited its own deadline, none would fail at once (40 requests, 8 at a
            # time: 5 check deadlines). The first 8 are in flight when the host turns out
            # stuck; then one request at a time probes it and the rest fail without asking.
            at_once = [o for o in outcomes if "not asked again until it does" in str(o)]
            assert len(at_once) >= len(refs) // 2, outcomes
            assert client.requests_sent < len(refs)
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
    assert server.accepted == 1  # the one request, abandoned at its deadline
    # Not a speed bound (the deadlines are 1 s and 2 s): only a command that hangs after the
    # error, say closing a connection that still drips, takes 30 s.
    assert elapsed < 30.0, elapsed
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert "no complete answer within 1 s" in line and server.host in line
