"""tagwatch config validate catches a cluster entry that cannot work, before the service starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagwatch.cli.main import app
from tests.support.kubeapi import KubeContext, write_kubeconfig


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
