"""Configuration files and settings that used to crash (issue 13 #7) are one line and exit 2:
non-UTF-8, UTF-16 and binary files, YAML nested 5,000 levels, a binary kubeconfig, durations
that are not finite or overflow, and database URLs that cannot be opened. Hypothesis keeps it
so for arbitrary YAML and bytes; `config validate` names the cluster entries that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from tagwatch.cli.main import app
from tests.support.kubeapi import KubeContext, write_kubeconfig

BAD_FILES = {
    "latin-1": 'listen: "caf\xe9:8080"\n'.encode("latin-1"),
    "utf-16": "watches: []\n".encode("utf-16"),
    "binary": bytes(range(256)) * 4,
    "nested sequences": b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "nested mappings": b"a: " + b"{a: " * 5000 + b"}" * 5000 + b"\n",
    "integer keys": b"1: 2\n",
}
#: Commands that read --config, each as typed before it.
CONFIG_COMMANDS = [["config", "validate"], ["check"], ["run"]]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAGWATCH_CONFIG", raising=False)
    monkeypatch.delenv("TAGWATCH_DATABASE_URL", raising=False)
    return tmp_path


def one_line_exit_2(result: Result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("command", CONFIG_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_config_file_that_is_not_utf8_yaml_is_one_line_exit_2(
    here: Path, command: list[str], content: bytes
) -> None:
    (here / "tagwatch.yaml").write_bytes(content)
    line = one_line_exit_2(CliRunner().invoke(app, [*command, "--config", "tagwatch.yaml"]))
    assert "tagwatch.yaml: " in line
    assert not (here / "tagwatch.db").exists()


def test_the_messages_say_what_to_do(here: Path) -> None:
    said = {}
    for name, content in BAD_FILES.items():
        (here / "c.yaml").write_bytes(content)
        said[name] = CliRunner().invoke(app, ["config", "validate", "-c", "c.yaml"]).output.strip()
    assert said["latin-1"] == "c.yaml: line 1: not UTF-8 text (save it as UTF-8)"
    assert said["utf-16"] == "c.yaml: the configuration is UTF-16 text: save it as UTF-8"
    assert said["nested sequences"] == "c.yaml: nested too deeply to be a configuration"
    assert said["integer keys"] == "c.yaml: (top level): every key must be a string"


def test_a_kubeconfig_that_is_binary_is_one_line_exit_2(here: Path) -> None:
    (here / "kubeconfig").write_bytes(bytes(range(256)))
    result = CliRunner().invoke(app, ["skew", "-A", "--offline", "--kubeconfig", "kubeconfig"])
    assert one_line_exit_2(result) == (
        "error: kubeconfig kubeconfig is not UTF-8 text: is it a kubeconfig?"
    )


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "99999999999999999999999h", 10**400])
def test_a_duration_that_is_not_finite_or_overflows_fails_validation(
    here: Path, value: object
) -> None:
    text = "scheduler:\n  tick: " + (value if isinstance(value, str) else str(value)) + "\n"
    (here / "tagwatch.yaml").write_text(text)
    result = CliRunner().invoke(app, ["config", "validate", "-c", "tagwatch.yaml"])
    line = one_line_exit_2(result)
    assert line.startswith("scheduler.tick: must be "), line


def test_watch_add_with_an_interval_that_overflows_is_exit_2(here: Path) -> None:
    result = CliRunner().invoke(
        app, ["watch", "add", "nginx:1.27", "--interval", "999999999999999999999999999999h"]
    )
    assert one_line_exit_2(result) == (
        "error: '999999999999999999999999999999h' must be at most 100 years"
    )


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////etc/passwd",
        "sqlite:///no-such-directory/tagwatch.db",
        "postgresql+psycopg://tagwatch@127.0.0.1:1/tagwatch",
    ],
    ids=["not-a-database", "missing-directory", "unreachable-postgresql"],
)
@pytest.mark.parametrize("command", [["history"], ["watch", "list"], ["check"]], ids=" ".join)
def test_a_database_that_cannot_be_opened_is_one_line_exit_2(
    here: Path, url: str, command: list[str]
) -> None:
    line = one_line_exit_2(CliRunner().invoke(app, [*command, "--db", url]))
    assert line.startswith("error: cannot open database "), line


def test_a_secret_file_that_is_a_device_is_refused_not_read(here: Path) -> None:
    (here / "tagwatch.yaml").write_text("slack: {bot_token_file: /dev/zero, default_channel: C1}\n")
    result = CliRunner().invoke(app, ["config", "validate", "-c", "tagwatch.yaml"])
    assert one_line_exit_2(result) == (
        "slack.bot_token_file: cannot read /dev/zero: a character device, not a regular file"
    )


YAML_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["scheduler", "tick", "watches", "ref", "listen", "log", "registries"])
            | st.text(max_size=10),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)
LIMITS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _answers_cleanly(here: Path, content: bytes) -> None:
    (here / "tagwatch.yaml").write_bytes(content)
    result = CliRunner().invoke(app, ["config", "validate", "-c", "tagwatch.yaml"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output


@LIMITS
@given(data=YAML_DATA)
def test_any_yaml_validates_or_fails_with_exit_2(here: Path, data: object) -> None:
    _answers_cleanly(here, yaml.safe_dump(data).encode())


@LIMITS
@given(content=st.binary(max_size=300))
def test_any_bytes_validate_or_fail_with_exit_2(here: Path, content: bytes) -> None:
    _answers_cleanly(here, content)


def test_a_cluster_with_an_unknown_context_or_missing_kubeconfig_fails_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", [KubeContext("prod", "https://127.0.0.1:1")]
    )
    (tmp_path / "tagwatch.yaml").write_text(
        "clusters:\n"
        f"  - {{name: good, kubeconfig: {kubeconfig}, context: prod}}\n"
        f"  - {{name: typo, kubeconfig: {kubeconfig}, context: prdo}}\n"
        "  - {name: gone, kubeconfig: no-such-kubeconfig}\n"
    )
    result = CliRunner().invoke(
        app, ["config", "validate", "--config", "tagwatch.yaml"], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "clusters[1] (typo): context 'prdo' is not in the kubeconfig (contexts: prod)",
        "clusters[2] (gone): kubeconfig no-such-kubeconfig does not exist: "
        "pass --kubeconfig or set KUBECONFIG",
    ]
