"""Configuration: YAML + TAGWATCH_* overrides, one located line per problem, a complete example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from tagwatch.app.settings import Settings, load_settings
from tagwatch.core.durations import parse_duration
from tagwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "tagwatch.example.yaml"
EXAMPLE_ENV = {
    "GHCR_TOKEN": "ghcr-token",
    "SLACK_BOT_TOKEN": "xoxb-example",
    "TAGWATCH_DISTRIBUTION_SECRET": "d",
    "TAGWATCH_DOCKERHUB_SECRET": "h",
    "GITHUB_WEBHOOK_SECRET": "g",
    "RELAY_WEBHOOK_URL": "https://relay.example/tagwatch",
    "RELAY_WEBHOOK_SECRET": "relay-secret",
}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "tagwatch.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def problems(tmp_path: Path, data: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, data))
    return str(caught.value).splitlines()


def test_defaults_listen_on_loopback_with_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAGWATCH_CONFIG", raising=False)
    settings = load_settings(None)
    assert settings.listen == "127.0.0.1:8080"
    assert settings.database_url is None
    assert settings.scheduler.default_interval == 300


def test_environment_overrides_the_file_with_nested_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, {"listen": "127.0.0.1:9000", "log": {"format": "text", "level": "INFO"}})
    monkeypatch.setenv("TAGWATCH_LISTEN", "0.0.0.0:8081")
    monkeypatch.setenv("TAGWATCH_LOG__FORMAT", "json")
    monkeypatch.setenv("TAGWATCH_SCHEDULER__TICK", "2s")
    settings = load_settings(path)
    assert settings.listen == "0.0.0.0:8081"
    assert settings.log.format == "json"
    assert settings.log.level == "INFO"  # the file's sibling key survives
    assert settings.scheduler.tick == 2


def test_tagwatch_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGWATCH_CONFIG", str(write(tmp_path, {"listen": "127.0.0.1:9999"})))
    assert load_settings(None).listen_port == 9999


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(90, 90), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("2h", 7200)],
)
def test_durations_parse(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


def test_a_bad_interval_is_reported_at_its_location(tmp_path: Path) -> None:
    data = {"watches": [{"ref": "nginx"}, {"ref": "redis"}, {"ref": "x/y:1", "interval": "soon"}]}
    assert problems(tmp_path, data) == ["watches[2].interval: must be a duration like 5m"]


def test_every_problem_gets_its_own_line(tmp_path: Path) -> None:
    data = {
        "listen": "everywhere",
        "watches": [{"ref": "org/App:1"}, {"ref": "ok/app:1", "colour": "red"}],
        "registries": {"ghcr.io": {"budget": {"requests": 0}}},
        "log": {"format": "xml"},
        "scheduler": {"jitter": 3},
    }
    lines = problems(tmp_path, data)
    assert len(lines) == 6, lines
    joined = "\n".join(lines)
    assert "listen: must be HOST:PORT" in joined
    assert "watches[0].ref: " in joined
    assert "watches[1].colour: unknown key" in joined
    assert "registries.ghcr.io.budget.requests: " in joined
    assert "log.format: " in joined
    assert "scheduler.jitter: " in joined


def test_an_unknown_top_level_key_is_a_typo(tmp_path: Path) -> None:
    assert problems(tmp_path, {"wathces": []}) == [
        "wathces: unknown key (check the spelling against config/tagwatch.example.yaml)"
    ]


def test_patterns_are_allowed_in_the_tag_only(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, {"watches": [{"ref": "ghcr.io/org/app:release-*"}]}))
    assert settings.watches[0].is_pattern
    assert settings.watches[0].tag_pattern == "release-*"
    assert problems(tmp_path, {"watches": [{"ref": "ghcr.io/org/*:v1"}]}) == [
        "watches[0].ref: patterns are allowed in the tag only (`repo:release-*`)"
    ]


def test_a_digest_is_not_a_watch(tmp_path: Path) -> None:
    ref = "nginx@sha256:" + "a" * 64
    assert problems(tmp_path, {"watches": [{"ref": ref}]})[0].startswith("watches[0].ref: ")


def test_missing_secret_references_are_reported(tmp_path: Path) -> None:
    data = {
        "registries": {"ghcr.io": {"username": "bot", "password_env": "TW_NOT_SET_ANYWHERE"}},
        "slack": {"bot_token_file": str(tmp_path / "missing-token"), "default_channel": "#x"},
        "webhooks": {"github": {"secret_env": "TW_ALSO_NOT_SET"}},
    }
    lines = problems(tmp_path, data)
    assert lines == [
        "registries.ghcr.io.password_env: environment variable TW_NOT_SET_ANYWHERE is not set",
        f"slack.bot_token_file: cannot read {tmp_path / 'missing-token'}: "
        "No such file or directory",
        "webhooks.github.secret_env: environment variable TW_ALSO_NOT_SET is not set",
    ]


def test_secrets_are_read_from_files_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("from-file\n")
    monkeypatch.setenv("TW_HOOK", "from-env")
    data = {
        "registries": {"r.example": {"username": "u", "password_file": str(tmp_path / "pw")}},
        "webhooks": {"distribution": {"secret_env": "TW_HOOK"}},
    }
    settings = load_settings(write(tmp_path, data))
    assert settings.registry_settings()["r.example"].password == "from-file"
    assert settings.webhooks.distribution.secret() == "from-env"
    assert "from-file" not in repr(settings.registry_settings())


def test_slack_with_both_a_token_and_a_webhook_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TW_T", "t")
    monkeypatch.setenv("TW_U", "u")
    data = {"slack": {"bot_token_env": "TW_T", "webhook_url_env": "TW_U", "default_channel": "#a"}}
    assert problems(tmp_path, data) == ["slack: give a bot token or a webhook URL, not both"]


def test_routes_without_slack_credentials_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, {"slack": {"routes": [{"channel": "#a"}]}}) == [
        "slack: routes need bot_token_env/bot_token_file or webhook_url_env/_file"
    ]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    lines = problems(tmp_path, "listen: 127.0.0.1:1\nwatches: [\n")
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'tagwatch.yaml'}: line ")


def test_a_list_at_the_top_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "- a\n- b\n") == [
        f"{tmp_path / 'tagwatch.yaml'}: (top level): must be a mapping of settings"
    ]


def _fields(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        annotation = info.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names |= _fields(candidate)
    return names


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return {str(k) for k in data} | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


def test_the_example_documents_every_setting_and_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(EXAMPLE)
    missing = _fields(Settings) - _keys(yaml.safe_load(EXAMPLE.read_text()))
    assert not missing, f"config/tagwatch.example.yaml does not document: {sorted(missing)}"
    assert settings.watches[1].is_pattern


def test_config_validate_prints_ok_or_the_problems_with_exit_2(tmp_path: Path) -> None:
    good = write(tmp_path, {"watches": [{"ref": "nginx:1.27", "interval": "5m"}]})
    ok = subprocess.run(
        [sys.executable, "-m", "tagwatch", "config", "validate", "--config", str(good)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "OK")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"watches": [{"ref": "nginx", "interval": "often"}]}))
    result = subprocess.run(
        [sys.executable, "-m", "tagwatch", "config", "validate", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "watches[0].interval: must be a duration like 5m"
