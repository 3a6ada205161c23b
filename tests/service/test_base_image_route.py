"""Base moves go to their own Slack channel: `watch add --from-dockerfile` labels the base
tags `purpose: base-image`, and a route on that label (as in the example config) gets them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tagwatch.app.settings import load_settings
from tests.support.registry import TestRegistry
from tests.support.services import eventually, running, service_config, tagwatch_cli
from tests.support.slack import FakeSlack


async def test_base_moves_of_dockerfile_watches_reach_the_base_image_channel(
    registry: TestRegistry,
    repo_name: str,
    slack: FakeSlack,
    tmp_path: Path,
    secrets_env: None,
) -> None:
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    base_repo = f"{repo_name}-base"
    base, app = f"{registry.host}/{base_repo}:1", f"{registry.host}/{repo_name}:prod"
    registry.push_image(base_repo, "1", content=["os", "base v1"])
    registry.push_image(repo_name, "prod", content=["os", "base v1", "app"])
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"ARG BASE_TAG=1\nFROM {registry.host}/{base_repo}:${{BASE_TAG}} AS build\n"
        "RUN make\nFROM build\nFROM scratch\nFROM $UNSET_IMAGE\n"
    )
    slack.state.channels["C-BASES"] = "base-images"
    path = service_config(tmp_path, db=db, watches=[], slack=slack)
    config = yaml.safe_load(path.read_text())
    config["slack"]["routes"] = [{"channel": "#base-images", "labels": {"purpose": "base-image"}}]
    path.write_text(yaml.safe_dump(config))

    added = await tagwatch_cli("watch", "add", "--from-dockerfile", str(dockerfile), "--db", db)
    assert f"watching {base}" in added
    assert "skipped" in added and "UNSET_IMAGE" in added  # an ARG with no default
    await tagwatch_cli("watch", "add", app, "--db", db)
    listed = json.loads(await tagwatch_cli("watch", "list", "-o", "json", "--db", db))
    assert {w["ref"]: w["labels"] for w in listed} == {base: {"purpose": "base-image"}, app: {}}

    async with running(load_settings(path)):
        await tagwatch_cli("check", base, app, "--db", db)  # first sightings: no alert
        registry.push_image(base_repo, "1", content=["os", "base v2"])
        registry.push_image(repo_name, "prod", content=["os", "base v1", "app v2"])
        await tagwatch_cli("check", base, app, "--db", db)
        await eventually(lambda: len(slack.posts) >= 3, within=20)
    to_bases = [p for p in slack.posts if p.channel == "C-BASES"]
    assert len(to_bases) == 1 and base_repo in str(to_bases[0].blocks)
    assert sorted(p.channel for p in slack.posts) == ["C-ALERTS", "C-ALERTS", "C-BASES"]
