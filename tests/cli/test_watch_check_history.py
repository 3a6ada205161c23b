"""The core workflow as a user runs it: watch a tag, check it, re-push it, read the history."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tagwatch.cli.main import app
from tests.support.registry import TestRegistry

Run = Callable[..., Any]


@pytest.fixture
def db(store_url: str) -> str:
    """Every CLI test runs on SQLite and on PostgreSQL."""
    return store_url


@pytest.fixture
def run(db: str) -> Run:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, [*args, "--db", db], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke


def _json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_repush_shows_as_move_in_check_and_history(
    registry: TestRegistry, repo_name: str, run: Run, skopeo: Callable[..., str]
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    first = registry.push_image(
        repo_name, "prod", content="v1", labels={"org.opencontainers.image.revision": "aaa111"}
    )
    run("watch", "add", ref)

    [checked] = _json(run("check", "-o", "json"))
    assert checked["ref"] == ref
    assert checked["change"] == "first_seen"
    assert checked["digest"] == str(first) == skopeo(ref)
    assert checked["revision"] == "aaa111"
    assert checked["error"] is None

    [again] = _json(run("check", "-o", "json"))
    assert again["change"] == "unchanged"

    second = registry.push_image(repo_name, "prod", content="v2")
    [moved] = _json(run("check", "-o", "json"))
    assert (moved["change"], moved["previous_digest"], moved["digest"]) == (
        "moved",
        str(first),
        str(second),
    )

    registry.tag(repo_name, "prod", first)
    [back] = _json(run("check", ref, "-o", "json"))
    assert back["change"] == "repointed"

    events = _json(run("history", ref, "-o", "json"))
    assert [e["change"] for e in events] == ["first_seen", "moved", "repointed"]
    assert events[1]["from_digest"] == str(first)
    assert events[1]["to_digest"] == str(second)
    assert events[1]["window_start"] <= events[1]["detected_at"]
    assert {e["source"] for e in events} == {"poll"}


def test_index_reports_platform_children_without_attestations(
    registry: TestRegistry, repo_name: str, run: Run, skopeo: Callable[..., str]
) -> None:
    ref = f"{registry.host}/{repo_name}:multi"
    index = registry.push_index(repo_name, "multi", {"linux/amd64": "a", "linux/arm64": "b"})
    [checked] = _json(run("check", ref, "-o", "json"))
    assert checked["digest"] == str(index) == skopeo(ref)
    children = registry.child_digests(repo_name, index)
    assert checked["platforms"] == {
        p: str(d) for p, d in children.items() if p != "unknown/unknown"
    }
    assert set(checked["platforms"]) == {"linux/amd64", "linux/arm64"}


def test_deleted_tag_is_recorded_and_its_return_is_restored(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    ref = f"{registry.host}/{repo_name}:gone"
    digest = registry.push_image(repo_name, "gone", content="x")
    run("check", ref)
    registry.delete(repo_name, digest)
    [deleted] = _json(run("check", ref, "-o", "json"))
    assert (deleted["change"], deleted["digest"]) == ("deleted", None)
    registry.push_image(repo_name, "gone", content="x")
    [restored] = _json(run("check", ref, "-o", "json"))
    assert restored["change"] == "restored"


def test_history_at_a_time_answers_what_the_tag_pointed_to(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    ref = f"{registry.host}/{repo_name}:at"
    first = registry.push_image(repo_name, "at", content="one")
    run("check", ref)
    answer = _json(run("history", ref, "--at", "0s", "-o", "json"))
    assert answer["digest"] == str(first)
    assert answer["certain"] is True
    before = _json(run("history", ref, "--at", "2000-01-01T00:00:00Z", "-o", "json"))
    assert before["candidates"] == []


def test_one_unreachable_registry_fails_its_tag_only_and_exits_1(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    good = f"{registry.host}/{repo_name}:ok"
    registry.push_image(repo_name, "ok", content="ok")
    dead = f"127.0.0.1:9/{repo_name}:down"  # port 9 (discard) has no listener here
    rows = _json(run("check", good, dead, "-o", "json", code=1))
    by_ref = {r["ref"]: r for r in rows}
    assert by_ref[good]["change"] == "first_seen"
    assert by_ref[dead]["change"] == "error"
    assert by_ref[dead]["error"]


def test_a_tag_that_does_not_exist_is_an_error_not_a_record(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    ref = f"{registry.host}/{repo_name}:never"
    registry.push_image(repo_name, "other", content="o")
    [row] = _json(run("check", ref, "-o", "json", code=1))
    assert row["change"] == "error"
    assert "not found" in row["error"]
    assert _json(run("history", ref, "-o", "json")) == []


def test_bad_reference_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    db_file = tmp_path / "untouched.db"
    result = CliRunner().invoke(
        app, ["watch", "add", "ghcr.io/org/app:ok", "Bad/Name", "--db", f"sqlite:///{db_file}"]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "Bad/Name" in lines[0]
    assert "Traceback" not in result.output
    assert not db_file.exists()


def test_watch_add_list_remove(run: Run) -> None:
    run(
        "watch",
        "add",
        "nginx:1.27",
        "ghcr.io/org/app:prod",
        "--label",
        "team=web",
        "--interval",
        "5m",
    )
    rows = _json(run("watch", "list", "-o", "json"))
    assert [r["ref"] for r in sorted(rows, key=lambda r: r["ref"])] == [
        "docker.io/library/nginx:1.27",
        "ghcr.io/org/app:prod",
    ]
    assert rows[0]["labels"] == {"team": "web"}
    assert rows[0]["interval_seconds"] == 300
    run("watch", "remove", "nginx:1.27")
    run("watch", "remove", "nginx:1.27", code=1)
    assert [r["ref"] for r in _json(run("watch", "list", "-o", "json"))] == ["ghcr.io/org/app:prod"]


def test_bad_interval_and_label_are_usage_errors(run: Run) -> None:
    run("watch", "add", "nginx", "--interval", "soon", code=2)
    run("watch", "add", "nginx", "--label", "novalue", code=2)


def test_watch_interval_and_history_since_read_the_one_duration_grammar(run: Run) -> None:
    # Both failed on 1h30m while the config file accepted it.
    run("watch", "add", "nginx:1.27", "--interval", "1h30m")
    [row] = _json(run("watch", "list", "-o", "json"))
    assert row["interval_seconds"] == 5400
    assert _json(run("history", "--since", "1h30m", "-o", "json")) == []


@pytest.mark.parametrize("raw", ["soon", "0", ".nan", "99999999w"])
def test_absurd_intervals_are_one_line_usage_errors(run: Run, raw: str) -> None:
    result = run("watch", "add", "nginx", "--interval", raw, code=2)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {raw!r} must be ")
    assert _json(run("watch", "list", "-o", "json")) == []


def test_check_uses_registry_credentials_from_the_config_file(
    basic_registry: TestRegistry,
    repo_name: str,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = f"{basic_registry.host}/{repo_name}:private"
    digest = basic_registry.push_image(repo_name, "private", content="secret bytes")
    empty_docker_config = tmp_path / "docker"
    empty_docker_config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(empty_docker_config))

    [denied] = _json(run("check", ref, "-o", "json", code=1))
    assert denied["change"] == "error"

    config = tmp_path / "tagwatch.yaml"
    config.write_text(
        f"registries:\n  {basic_registry.host}:\n"
        f"    username: {basic_registry.username}\n    password_env: TEST_REGISTRY_PASSWORD\n"
    )
    monkeypatch.setenv("TEST_REGISTRY_PASSWORD", str(basic_registry.password))
    [row] = _json(run("check", ref, "-o", "json", "--config", str(config)))
    assert (row["change"], row["digest"]) == ("first_seen", str(digest))


def test_broken_config_file_is_exit_2_before_any_request(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("registries: [this, is, not, a, mapping]\n")
    result = run("check", "nginx:1.27", "--config", str(config), code=2)
    assert "registries" in result.output
    assert "Traceback" not in result.output
