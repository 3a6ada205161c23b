"""`tagwatch check` with a signing policy: every digest a tag moves to is judged and recorded,
`check` fails on an unsigned or wrongly signed one, and `history` shows the verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tagwatch.cli.main import app
from tests.support.cosign import SigningKey, sign_with_sig_tag
from tests.support.registry import TestRegistry


@pytest.fixture
def db(store_url: str) -> str:
    return store_url


def _config(tmp_path: Path, registry: TestRegistry, repo: str, key: SigningKey) -> str:
    key_file = tmp_path / "cosign.pub"
    key_file.write_text(key.public_pem)
    config = tmp_path / "tagwatch.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "signing": [
                    {
                        "name": "releases",
                        "images": [f"{registry.host}/{repo}:*"],
                        "keys": [str(key_file)],
                    }
                ]
            }
        )
    )
    return str(config)


def _run(*args: str, code: int) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_a_move_to_an_unsigned_digest_fails_check_and_shows_in_history(
    registry: TestRegistry, repo_name: str, db: str, tmp_path: Path
) -> None:
    key = SigningKey.ecdsa()
    config = _config(tmp_path, registry, repo_name, key)
    ref = f"{registry.host}/{repo_name}:prod"
    signed = registry.push_image(repo_name, "prod", content="v1")
    sign_with_sig_tag(registry, repo_name, signed, key)
    _run("watch", "add", ref, "--db", db, code=0)

    [first] = json.loads(_run("check", "-o", "json", "-c", config, "--db", db, code=0).stdout)
    assert first["change"] == "first_seen"
    assert first["signature"]["status"] == "signed"
    assert first["signature"]["policy"] == "releases"
    assert first["signature"]["signed_by"].endswith("(.sig tag)")

    [same] = json.loads(_run("check", "-o", "json", "-c", config, "--db", db, code=0).stdout)
    assert same["change"] == "unchanged" and same["signature"] is None  # judged once per move

    unsigned = registry.push_image(repo_name, "prod", content="v2")  # someone re-tags by hand
    result = _run("check", "-o", "json", "-c", config, "--db", db, code=1)
    [moved] = json.loads(result.stdout)
    assert moved["change"] == "moved"
    assert moved["signature"] == {
        "policy": "releases",
        "status": "unsigned",
        "signed_by": None,
        "reason": "no signature found",
    }
    assert (
        f"unsigned: {ref} now points to {unsigned.short}: no signature found "
        "(signing policy releases)"
    ) in result.stderr

    rows = json.loads(_run("history", ref, "-o", "json", "--db", db, code=0).stdout)
    assert [(r["to_digest"], r["signature"]["status"]) for r in rows] == [
        (str(signed), "signed"),
        (str(unsigned), "unsigned"),
    ]
    csv_out = _run("history", ref, "-o", "csv", "--db", db, code=0).stdout
    assert csv_out.splitlines()[0].endswith(",signature,signed_by")
    assert csv_out.splitlines()[2].split(",")[-2:] == ["unsigned", ""]


def test_a_tag_no_policy_covers_checks_as_before(
    registry: TestRegistry, repo_name: str, db: str, tmp_path: Path
) -> None:
    config = _config(tmp_path, registry, "somewhere/else", SigningKey.ecdsa())
    ref = f"{registry.host}/{repo_name}:prod"
    registry.push_image(repo_name, "prod", content="v1")
    [result] = json.loads(_run("check", ref, "-o", "json", "-c", config, "--db", db, code=0).stdout)
    assert result["signature"] is None


def test_an_unreadable_policy_key_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "tagwatch.yaml"
    config.write_text(
        "signing:\n  - name: releases\n    images: ['*']\n    keys: [/nonexistent/cosign.pub]\n"
    )
    result = _run("config", "validate", "--config", str(config), code=2)
    assert "signing[0]: signing policy 'releases': cannot read key /nonexistent/cosign.pub" in (
        result.output
    )
    not_a_key = tmp_path / "cosign.pub"
    not_a_key.write_text("hello")
    config.write_text(f"signing:\n  - name: releases\n    images: ['*']\n    keys: [{not_a_key}]\n")
    result = _run("config", "validate", "--config", str(config), code=2)
    assert "not a PEM public key" in result.output
    config.write_text("signing:\n  - name: releases\n    images: ['*']\n")
    result = _run("config", "validate", "--config", str(config), code=2)
    assert "a signing policy needs `keys` or `keyless`" in result.output
