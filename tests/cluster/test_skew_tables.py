"""`tagwatch skew`'s table on an 80-column terminal: namespace, workload and container whole, one
line per row; a wider terminal and `-o wide` show more (tagwatch.cli.tables)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from typer.testing import CliRunner

from tagwatch.cli.main import app
from tests.cluster.test_skew_cli import _deployment, _two_versions
from tests.support import kube_fixtures as kf
from tests.support.cluster import Kube, ProdTag

M = timedelta(minutes=1)


def test_the_skew_table_fits_80_columns_and_keeps_what_names_each_row(
    prod: ProdTag, kube: Callable[..., Kube], db: str, t0: datetime
) -> None:
    v1, v2 = _two_versions(prod, t0)
    ref = prod.ref
    workload = "checkout-frontend"
    k = kube(
        [
            *_deployment(
                workload,
                ref,
                [
                    (f"{workload}-5d8f7b-aaaaa", "node-a", t0 + 10 * M, prod.pod_image(v1)),
                    (f"{workload}-5d8f7b-bbbbb", "node-b", t0 + 40 * M, prod.pod_image(v2)),
                ],
                ns="payments-production",
            ),
            kf.node("node-a"),
            kf.node("node-b"),
        ]
    )

    def table(columns: int, *extra: str) -> list[str]:
        args = ["skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), "--db", db]
        result = CliRunner().invoke(app, [*args, *extra], env={"COLUMNS": str(columns)})
        assert result.exit_code == 1, result.output  # skewed
        lines = result.stdout.splitlines()
        return lines[: lines.index("")]  # the table; the explanation follows a blank line

    narrow, roomy, wide = table(80), table(200), table(80, "-o", "wide")
    assert len(narrow) == len(roomy) == len(wide) == 2  # header and one row, each one line
    assert all(len(line) <= 80 for line in narrow), narrow
    assert narrow[1].split()[:3] == ["payments-production", f"deployment/{workload}", workload]
    assert "SKEWED" in narrow[1]
    assert len(roomy[0].split()) > len(narrow[0].split())
    assert f"{v1.short}… x1" in roomy[1] and len(roomy[1]) <= 200
    assert {"NODES", "PLATFORMS", "PODS"} <= set(wide[0].split())
    assert str(v1) in wide[1] and str(v2) in wide[1] and "node-a,node-b" in wide[1]
