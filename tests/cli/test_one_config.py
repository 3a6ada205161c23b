"""One configuration for the service and every command: --config / TAGWATCH_CONFIG (issue 12)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from tagwatch.cli.main import app
from tests.support import kube_fixtures as kf
from tests.support.cluster import Kube
from tests.support.kube_fixtures import C
from tests.support.registry import TestRegistry

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "tagwatch.example.yaml"


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "tagwatch.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _service_config(tmp_path: Path, store_url: str, ref: str) -> Path:
    """What `tagwatch run` would read: Slack and webhook secrets this shell does not have."""
    return _write(
        tmp_path,
        {
            "database_url": store_url,
            "watches": [{"ref": ref, "interval": "5m", "labels": {"team": "demo"}}],
            "slack": {"bot_token_env": "TAGWATCH_TEST_UNSET_SLACK", "default_channel": "#x"},
            "webhooks": {"distribution": {"secret_env": "TAGWATCH_TEST_UNSET_HOOK"}},
        },
    )


def test_check_and_history_use_the_configured_database_without_slack_secrets(
    tmp_path: Path, store_url: str, registry: TestRegistry, repo_name: str
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    digest = registry.push_image(repo_name, "prod", content="v1")
    config = _service_config(tmp_path, store_url, ref)
    runner = CliRunner()
    checked = runner.invoke(app, ["check", ref, "-o", "json", "--config", str(config)])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)[0]["digest"] == str(digest)
    # history reads the same database, named only in the file (TAGWATCH_CONFIG this time)
    history = runner.invoke(
        app, ["history", ref, "-o", "json"], env={"TAGWATCH_CONFIG": str(config)}
    )
    assert history.exit_code == 0, history.output
    assert [e["change"] for e in json.loads(history.stdout)] == ["first_seen"]
    # the service itself still refuses to start without them
    validate = runner.invoke(app, ["config", "validate", "--config", str(config)])
    assert validate.exit_code == 2
    assert "TAGWATCH_TEST_UNSET_SLACK is not set" in validate.stderr


def test_check_with_a_registry_password_that_is_not_set_is_a_config_error(
    tmp_path: Path, store_url: str
) -> None:
    config = _write(
        tmp_path,
        {"database_url": store_url, "registries": {"ghcr.io": {"password_env": "NOPE_UNSET"}}},
    )
    result = CliRunner().invoke(app, ["check", "ghcr.io/o/a:1", "--config", str(config)])
    assert result.exit_code == 2
    assert "registries.ghcr.io.password_env: environment variable NOPE_UNSET is not set" in (
        result.stderr
    )


def test_watch_list_shows_the_configuration_watches_marked_as_such(
    tmp_path: Path, store_url: str
) -> None:
    config = _service_config(tmp_path, store_url, "ghcr.io/org/app:release-*")
    runner = CliRunner()
    added = runner.invoke(app, ["watch", "add", "nginx:1.27", "--config", str(config)])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["watch", "list", "-o", "json", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["ref"], r["source"]) for r in rows] == [
        ("ghcr.io/org/app:release-*", "config"),
        ("docker.io/library/nginx:1.27", "database"),
    ]
    assert rows[0]["interval_seconds"] == 300 and rows[0]["labels"] == {"team": "demo"}
    assert rows[1]["added_at"].endswith("Z")
    table = runner.invoke(app, ["watch", "list", "--config", str(config)])
    assert "release-*" in table.stdout and "config" in table.stdout


def test_db_upgrade_takes_the_database_from_the_configuration(tmp_path: Path) -> None:
    db = tmp_path / "from-config.db"
    config = _write(tmp_path, {"database_url": f"sqlite:///{db}"})
    result = CliRunner().invoke(app, ["db", "upgrade", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert db.exists()


def test_the_db_flag_overrides_the_configuration(tmp_path: Path) -> None:
    in_file = tmp_path / "in-file.db"
    flag = tmp_path / "flag.db"
    config = _write(tmp_path, {"database_url": f"sqlite:///{in_file}"})
    result = CliRunner().invoke(
        app, ["watch", "add", "nginx:1", "--config", str(config), "--db", f"sqlite:///{flag}"]
    )
    assert result.exit_code == 0, result.output
    assert flag.exists() and not in_file.exists()


def test_skew_and_verify_read_the_configured_cluster(
    tmp_path: Path,
    kube: Callable[..., Kube],
) -> None:
    k = kube([kf.deployment("web", "shop", containers=[C("web", "nginx:1")], replicas=0)])
    config = _write(
        tmp_path,
        {
            "database_url": f"sqlite:///{tmp_path / 'x.db'}",
            "clusters": [{"name": "fake", "kubeconfig": str(k.kubeconfig), "namespace": "shop"}],
        },
    )
    runner = CliRunner()
    # the only configured cluster is the default; --cluster names it
    scanned = runner.invoke(app, ["skew", "--offline", "-o", "json", "--config", str(config)])
    assert scanned.exit_code == 0, scanned.output
    assert json.loads(scanned.stdout)["skewed"] == 0
    verified = runner.invoke(
        app, ["verify", "deploy/web", "--cluster", "fake", "--offline", "--config", str(config)]
    )
    assert verified.exit_code == 1, verified.output  # found and judged: no ready pods
    assert "deployment/web -n shop" in verified.stdout and "no ready pods" in verified.stdout
    assert any("/namespaces/shop/" in path for path, _ in k.api.requests), k.api.requests


def test_skew_with_an_unknown_cluster_name_is_a_usage_error(tmp_path: Path) -> None:
    config = _write(tmp_path, {"clusters": [{"name": "prod"}]})
    result = CliRunner().invoke(app, ["skew", "--cluster", "staging", "--config", str(config)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --cluster 'staging' is not in the configuration's clusters (prod)"
    )


def test_schema_validates_the_example_and_rejects_a_wrong_value() -> None:
    result = CliRunner().invoke(app, ["config", "validate", "--schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()), schema)
    for wrong in (
        {"scheduler": {"tick": "five minutes"}},
        {"watches": [{"ref": "nginx:1", "labls": {}}]},
        {"log": {"format": "xml"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, schema)
