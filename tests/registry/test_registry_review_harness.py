"""The test registry takes any extra docker-registry configuration, merged into its own."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.registry import TestRegistry


def test_extra_config_is_merged_into_the_registry_config(
    make_registry: Callable[..., TestRegistry], repo_name: str
) -> None:
    reg = make_registry(config={"http": {"headers": {"X-Tagwatch-Test": ["merged"]}}})
    response = reg.http.get("/v2/")
    assert response.status_code == 200
    assert response.headers["X-Tagwatch-Test"] == "merged"
    # the harness's own keys under `http` survive the merge
    assert reg.push_image(repo_name, "v1", content="merged") == reg.current(repo_name, "v1")
