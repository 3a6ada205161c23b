"""A registry that never answers: counted, shown in /metrics and /readyz, and nobody else waits."""

from __future__ import annotations

from pathlib import Path

from tagwatch.app.settings import load_settings
from tests.support.registry import TestRegistry
from tests.support.services import eventually, running, service_config
from tests.support.slow_registry import SlowRegistry


async def test_a_stuck_registry_is_visible_and_never_holds_up_another_registrys_checks(
    registry: TestRegistry, repo_name: str, tmp_path: Path, secrets_env: None
) -> None:
    registry.push_image(repo_name, "v1", content="answers")
    with SlowRegistry("hang") as slow:
        watches = [{"ref": f"{slow.host}/team/app:t{i}", "interval": "300ms"} for i in range(20)]
        watches.append({"ref": f"{registry.host}/{repo_name}:v1", "interval": "300ms"})
        path = service_config(
            tmp_path,
            db=f"sqlite:///{tmp_path / 'tw.db'}",
            watches=watches,
            registries={slow.host: {"request_deadline": "1s", "check_deadline": "2s"}},
        )
        async with running(load_settings(path)) as svc:
            sample = svc.service.metrics.registry.get_sample_value

            def checks(host: str) -> float:
                return sample("tagwatch_checks_total", {"registry": host, "source": "poll"}) or 0

            await eventually(lambda: sample("tagwatch_registry_stuck", {"registry": slow.host}))
            # while it is stuck the other registry's tag goes on being checked, every 300 ms
            before = checks(registry.host)
            await eventually(lambda: checks(registry.host) >= before + 3, within=5)
            # and the stuck host's tags fail at once (counted) instead of each waiting 2 s
            await eventually(lambda: checks(slow.host) >= 40, within=6)
            errors = sample("tagwatch_check_errors_total", {"registry": slow.host}) or 0
            assert errors == checks(slow.host)
            ready = await svc.client.get("/readyz")
            assert list(ready.json()["stuck_registries"]) == [slow.host]
            assert sample("tagwatch_registry_stuck", {"registry": registry.host}) == 0
            metrics = (await svc.client.get("/metrics")).text
            assert f'tagwatch_registry_stuck{{registry="{slow.host}"}} 1.0' in metrics
