"""The registry package's public surface is exactly what the other layers are promised."""

from __future__ import annotations

import dataclasses
import inspect

import tagwatch.registry as registry
from tagwatch.registry import RateLimitStatus, RegistryClient, RegistrySettings


def test_public_names_are_listed_in_all() -> None:
    assert sorted(registry.__all__) == [
        "Credentials",
        "DockerConfig",
        "RateLimitStatus",
        "RegistryClient",
        "RegistrySettings",
    ]
    for name in registry.__all__:
        assert getattr(registry, name) is not None


def test_registry_settings_defaults() -> None:
    settings = RegistrySettings()
    assert settings == RegistrySettings(
        insecure=False, username=None, password=None, max_concurrency=8, allowed_auth_hosts=()
    )
    assert dataclasses.is_dataclass(settings)
    assert "hunter2" not in repr(RegistrySettings(username="u", password="hunter2"))


def test_rate_limit_status_fields() -> None:
    fields = [f.name for f in dataclasses.fields(RateLimitStatus)]
    assert fields == ["limit", "remaining", "window_s", "observed_at"]


def test_client_signature_is_keyword_only_with_documented_defaults() -> None:
    params = inspect.signature(RegistryClient.__init__).parameters
    expected = {
        "http": None,
        "settings": None,
        "docker_config": None,
        "max_retries": 4,
        "max_retry_wait": 30.0,
        "timeout": 10.0,
    }
    for name, default in expected.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == default
    for method in ("resolve", "describe", "observe", "list_tags", "aclose"):
        assert inspect.iscoroutinefunction(getattr(RegistryClient, method))
    observe = inspect.signature(RegistryClient.observe).parameters
    assert {"known", "now", "source"} <= set(observe)
