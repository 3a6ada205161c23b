"""Bad input as users type it: one line, exit 2, nothing written."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagwatch.cli.main import app

BROKEN_YAML = "registries:\n  - host: [unclosed\n"

COMMANDS = [
    ["check"],
    ["check", "127.0.0.1:1/shop/web:prod"],
    ["pin", "k8s.yaml"],
    ["drift"],
    ["drift", "--offline"],
    ["backfill", "nginx:1.27"],
    ["skew", "-A", "--offline", "--kubeconfig", "no-such-kubeconfig"],
    ["verify", "deployment/web", "--offline", "--kubeconfig", "no-such-kubeconfig"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_a_broken_config_file_fails_with_exit_2_before_any_database_is_created(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAGWATCH_DATABASE_URL", raising=False)
    (tmp_path / "tagwatch.yaml").write_text(BROKEN_YAML)
    (tmp_path / "k8s.yaml").write_text("image: nginx:1.27\n")
    result = CliRunner().invoke(app, [*args, "--config", "tagwatch.yaml"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "tagwatch.yaml: line 3" in result.output
    assert not (tmp_path / "tagwatch.db").exists()


def test_a_missing_config_file_is_an_error_even_when_nothing_is_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAGWATCH_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["check", "--config", "nope.yaml"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "nope.yaml: cannot read the configuration" in result.output
    assert not (tmp_path / "tagwatch.db").exists()


def test_run_on_a_taken_port_says_so_in_one_line_and_exits_2_before_opening_the_database(
    tmp_path: Path,
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    env = {
        **os.environ,
        "TAGWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}",
        "TAGWATCH_LISTEN": f"127.0.0.1:{port}",
    }
    env.pop("TAGWATCH_CONFIG", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tagwatch", "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        taken.close()
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: listen: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "set another address with --listen or TAGWATCH_LISTEN"
    ]
    assert not (tmp_path / "tw.db").exists()


@pytest.mark.parametrize("url", ["mysql://db/tagwatch", "postgresql+nosuchdriver://db/tagwatch"])
def test_a_database_url_tagwatch_cannot_use_is_a_configuration_error_exit_2(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["history", "--db", url], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: cannot use database URL ")
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["check", "drift"])
def test_json_output_with_nothing_watched_is_an_empty_array(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAGWATCH_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, [command, "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_a_kubeconfig_that_is_not_yaml_is_one_line_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAGWATCH_DATABASE_URL", raising=False)
    (tmp_path / "kubeconfig").write_text("clusters: [broken\n")
    result = CliRunner().invoke(
        app, ["skew", "-A", "--offline", "--kubeconfig", "kubeconfig"], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "error: kubeconfig kubeconfig is not readable YAML: line 2: "
        "expected ',' or ']', but got '<stream end>'"
    ]


def test_watch_list_refuses_csv_instead_of_printing_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAGWATCH_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["watch", "list", "-o", "csv"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "'csv' is not one of" in result.output  # the choices offered are table and json
    assert not (tmp_path / "tagwatch.db").exists()
