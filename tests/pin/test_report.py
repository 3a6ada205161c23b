"""`tagwatch report`: the review a security engineer attaches to an audit, from real pushes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.pin.conftest import Run, as_json
from tests.support.cosign import SigningKey, sign_with_sig_tag
from tests.support.registry import TestRegistry

BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"
REVISION = "org.opencontainers.image.revision"


def test_a_month_with_a_release_repush_an_unsigned_move_a_rollback_and_drift(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    host = registry.host
    key = SigningKey.ecdsa()
    (tmp_path / "cosign.pub").write_text(key.public_pem)
    config = tmp_path / "tagwatch.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "signing": [
                    {
                        "name": "releases",
                        "images": [f"{host}/{repo_name}:*"],
                        "keys": [str(tmp_path / "cosign.pub")],
                    }
                ]
            }
        )
    )
    release = f"{host}/{repo_name}:1.4.2"
    prod = f"{host}/{repo_name}:prod"
    base_repo = f"{repo_name}-base"
    base = f"{host}/{base_repo}:3.12"
    app = f"{host}/{repo_name}-app:main"

    v1 = registry.push_image(repo_name, "1.4.2", content="v1", labels={REVISION: "<b>aaa</b>"})
    sign_with_sig_tag(registry, repo_name, v1, key)
    registry.tag(repo_name, "prod", v1)
    base_v1 = registry.push_image(base_repo, "3.12", content="base v1")
    registry.push_image(
        f"{repo_name}-app",
        "main",
        content="app",
        labels={BASE_NAME: base, BASE_DIGEST: str(base_v1)},
    )
    for ref in (release, prod, base, app):
        run("watch", "add", ref)
    run("check", "-c", str(config))

    clean = run("report", "-o", "json")
    assert as_json(clean)["failed"] is False  # first sightings only: nothing to flag

    v2 = registry.push_image(repo_name, "1.4.2", content="v2", labels={REVISION: "bbb"})
    registry.tag(repo_name, "prod", v2)  # nobody signed v2
    registry.push_image(base_repo, "3.12", content="base v2")
    run("check", "-c", str(config), code=1)
    registry.tag(repo_name, "prod", v1)  # and someone rolls prod back
    run("check", "-c", str(config))

    result = run("report", "--since", "1h", "-o", "json", code=1)
    review = as_json(result)
    assert review["failed"] is True
    # One check sees both tags move; each has its own detection time, so compare as sets.
    assert sorted((m["ref"], m["change"]) for m in review["release_repushes"]) == [
        (release, "moved"),
        (prod, "moved"),
        (prod, "repointed"),
    ]
    assert {(m["ref"], m["to_digest"]) for m in review["signature_failures"]} == {
        (release, str(v2)),
        (prod, str(v2)),
    }
    assert all(
        m["signature"]["reason"] == "no signature found" for m in review["signature_failures"]
    )
    [rollback] = review["rollbacks"]
    assert (rollback["ref"], rollback["from_digest"], rollback["to_digest"]) == (
        prod,
        str(v2),
        str(v1),
    )
    assert rollback["signature"]["status"] == "signed"
    [drift] = review["base_drift"]
    assert (drift["ref"], drift["base"], drift["moves_behind"]) == (app, base, 1)
    assert drift["days_behind"] == 0
    moved = next(m for m in review["release_repushes"] if m["ref"] == release)
    assert (moved["revision_before"], moved["revision_after"]) == ("<b>aaa</b>", "bbb")
    assert moved["window_start"] <= moved["detected_at"]

    markdown = run("report", "--since", "1h", code=1).stdout
    assert markdown.startswith("# Image tag audit, ")
    assert "Result: **FAILED**" in markdown
    # Labels are attacker-controlled text: no HTML reaches a Markdown renderer.
    digests = f"`{str(v1)[:19]}` | `{str(v2)[:19]}`"
    row = f"| {release} | moved | {digests} | &lt;b&gt;aaa&lt;/b&gt; → bbb |"
    assert row in markdown and "<b>" not in markdown
    # Every table renders whole: header, separator, then its rows with no blank line between.
    tables = _markdown_tables(markdown)
    assert tables and all(t[1].startswith("|---") and len(t) >= 3 for t in tables)
    [drift_table] = [t for t in tables if t[0].startswith("| image | base |")]
    assert [r for r in drift_table[2:] if r.startswith(f"| {app} | {base} |")]

    html = run("report", "--since", "1h", "-o", "html", code=1).stdout
    assert "&lt;b&gt;aaa&lt;/b&gt;" in html and "<b>aaa</b>" not in html  # labels are text
    assert "FAILED" in html and "http" not in html.split("<body>")[0].replace("https://", "")

    only_app = as_json(run("report", app, "--since", "1h", "-o", "json"))
    assert only_app["failed"] is False
    assert [(m["ref"], m["change"]) for m in only_app["moves"]] == [(app, "first_seen")]
    assert json.dumps(only_app["base_drift"]).count(app) == 1


def test_report_refuses_a_bad_period(run: Run) -> None:
    result = run("report", "--since", "sometime", code=2)
    assert "Traceback" not in result.output


def _markdown_tables(markdown: str) -> list[list[str]]:
    """The tables as a Markdown renderer sees them: runs of `|` lines that no blank line ends."""
    tables: list[list[str]] = []
    rows: list[str] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            tables.append(rows)
            rows = []
    return tables
