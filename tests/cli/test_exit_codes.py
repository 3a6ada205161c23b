"""Exit codes a deploy gate can trust: 0 clean, 1 found, 2 bad input, 3 could not find out.

One table per gate (`skew`, `verify`, `drift`, `lint`, `report`), each code produced for real:
a fixture cluster, the test registry, a closed port for the outage, a database that cannot be
opened, a PostgreSQL role refused the history.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tagwatch.cli.common import ExitCode
from tagwatch.cli.main import app
from tests.support import kube_fixtures as kf
from tests.support.cluster import Kube
from tests.support.kube_fixtures import C
from tests.support.kubeapi import KubeContext, write_kubeconfig
from tests.support.registry import TestRegistry

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
IMAGE = "registry.example/shop/web:prod"
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _web(digests: list[str], *, observed_generation: int = 1) -> list[dict[str, Any]]:
    """A Deployment in namespace shop, its one ReplicaSet, one ready pod per digest."""
    lab = {"app": "web"}
    objs = [
        kf.deployment(
            "web",
            "shop",
            containers=[C("web", IMAGE)],
            replicas=len(digests),
            labels=lab,
            generation=1,
            observed_generation=observed_generation,
        ),
        kf.replicaset(
            "web-5d8f",
            "shop",
            deployment="web",
            template_hash="5d8f",
            containers=[C("web", IMAGE)],
            replicas=len(digests),
            labels=lab,
        ),
    ]
    for i, digest in enumerate(digests):
        objs.append(
            kf.pod(
                f"web-5d8f-{i}",
                "shop",
                owner=("ReplicaSet", "web-5d8f"),
                template_hash="5d8f",
                labels=lab,
                node="node-a",
                containers=[C("web", IMAGE, f"registry.example/shop/web@{digest}", T0)],
            )
        )
    return objs


def _run(*args: str, db: str) -> Any:
    return CliRunner().invoke(app, [*args, "--db", db], catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tagwatch.db'}"


@pytest.fixture
def unreachable_kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "gone-kubeconfig"
    write_kubeconfig(path, [KubeContext("gone", f"http://127.0.0.1:{_closed_port()}")])
    return str(path)


def test_skew_answers_each_exit_code(
    kube: Callable[..., Kube],
    db: str,
    unreachable_kubeconfig: str,
) -> None:
    clean = kube(_web([A, A]))
    split = kube(_web([A, B]))
    cases = {
        ExitCode.CLEAN: ["--kubeconfig", str(clean.kubeconfig), "--offline"],
        ExitCode.FOUND: ["--kubeconfig", str(split.kubeconfig), "--offline"],
        ExitCode.USAGE: ["--kubeconfig", str(clean.kubeconfig), "-n", "shop", "-A"],
        ExitCode.UNKNOWN: ["--kubeconfig", unreachable_kubeconfig, "--offline"],
    }
    for code, args in cases.items():
        result = _run("skew", "-A" if "-n" not in args else "--offline", *args, db=db)
        assert result.exit_code == code, (code, result.output)


def test_skew_that_cannot_refresh_a_tag_could_not_find_out(
    kube: Callable[..., Kube],
    db: str,
) -> None:
    port = _closed_port()
    image = f"127.0.0.1:{port}/shop/web:prod"
    objs = [
        kf.deployment("api", "shop", containers=[C("api", image)], replicas=1, labels={"a": "b"}),
        kf.pod(
            "api-1",
            "shop",
            labels={"a": "b"},
            node="node-a",
            containers=[C("api", image, f"127.0.0.1:{port}/shop/web@{A}", T0)],
        ),
    ]
    result = _run("skew", "-n", "shop", "--kubeconfig", str(kube(objs).kubeconfig), db=db)
    assert result.exit_code == ExitCode.UNKNOWN, result.output


def test_verify_answers_each_exit_code(
    kube: Callable[..., Kube],
    db: str,
    unreachable_kubeconfig: str,
) -> None:
    stuck = kube(_web([A], observed_generation=0))  # the controller never saw generation 1
    cases = {
        ExitCode.FOUND: ["deployment/web", "--kubeconfig", str(stuck.kubeconfig)],
        ExitCode.USAGE: ["pod/web", "--kubeconfig", str(stuck.kubeconfig)],
        ExitCode.UNKNOWN: ["deployment/web", "--kubeconfig", unreachable_kubeconfig],
    }
    for code, args in cases.items():
        result = _run("verify", *args, "-n", "shop", "--offline", "--timeout", "0s", db=db)
        assert result.exit_code == code, (code, result.output)


def test_verify_passes_with_exit_0_on_a_pinned_uniform_rollout(
    kube: Callable[..., Kube],
    db: str,
) -> None:
    pinned = f"registry.example/shop/web:prod@{A}"
    objs = _web([A])
    for obj in objs:
        for container in obj["spec"].get("template", obj)["spec"]["containers"]:
            container["image"] = pinned
    objs[-1]["spec"]["containers"][0]["image"] = pinned
    result = _run(
        "verify", "deployment/web", "-n", "shop", "--offline",
        "--kubeconfig", str(kube(objs).kubeconfig), db=db,
    )  # fmt: skip
    assert result.exit_code == ExitCode.CLEAN, result.output


def test_drift_answers_each_exit_code(registry: TestRegistry, repo_name: str, db: str) -> None:
    registry.push_image(repo_name, "plain", content="no base labels")
    cases = {
        ExitCode.CLEAN: [f"{registry.host}/{repo_name}:plain"],  # no base labels: nothing behind
        ExitCode.USAGE: ["Not A Ref"],
        ExitCode.UNKNOWN: [f"127.0.0.1:{_closed_port()}/gone/app:1"],
    }
    for code, args in cases.items():
        result = _run("drift", *args, db=db)
        assert result.exit_code == code, (code, result.output)
    # ExitCode.FOUND (an image behind its base) is tests/pin/test_drift.py's subject.


def test_lint_answers_each_exit_code(tmp_path: Path) -> None:
    (tmp_path / "pinned").write_text(f"FROM python:3.11@{A}\n")
    (tmp_path / "tagged").write_text("FROM python:3.11\n")
    (tmp_path / "broken.yaml").write_text("a: [b\n")
    for code, name in (
        (ExitCode.CLEAN, "pinned"),
        (ExitCode.FOUND, "tagged"),
        (ExitCode.USAGE, "broken.yaml"),
    ):
        result = CliRunner().invoke(app, ["lint", str(tmp_path / name)])
        assert result.exit_code == code, (code, result.output)


@pytest.mark.parametrize(
    "args",
    [
        ["skew", "-A", "--offline"],
        ["verify", "deployment/web", "--offline"],
        ["drift", "nginx:1", "--offline"],
        ["check", "nginx:1"],
        ["history"],
        ["watch", "list"],
        ["report"],
    ],
    ids=lambda a: a[0],
)
@pytest.mark.parametrize(
    "url",
    ["postgresql://nobody@127.0.0.1:{port}/nowhere", "sqlite:///{tmp}/no/such/dir/x.db"],
    ids=["postgresql", "sqlite"],
)
def test_a_database_that_cannot_be_opened_is_exit_2_in_one_line(
    args: list[str],
    url: str,
    kube: Callable[..., Kube],
    tmp_path: Path,
) -> None:
    k = kube(_web([A]))
    db = url.format(port=_closed_port(), tmp=tmp_path)
    extra = ["--kubeconfig", str(k.kubeconfig)] if args[0] in ("skew", "verify") else []
    result = _run(*args, *extra, db=db)
    assert result.exit_code == ExitCode.USAGE, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot open database"), line


def test_report_answers_each_exit_code(
    registry: TestRegistry, repo_name: str, db: str, tmp_path: Path
) -> None:
    release = f"{registry.host}/{repo_name}:1.4.2"
    registry.push_image(repo_name, "1.4.2", content="v1")
    assert _run("watch", "add", release, db=db).exit_code == 0
    assert _run("check", release, db=db).exit_code == 0
    assert _run("report", db=db).exit_code == ExitCode.CLEAN  # a first sighting is no finding
    registry.push_image(repo_name, "1.4.2", content="v1, rebuilt")  # a release tag re-pushed
    assert _run("check", release, db=db).exit_code == 0
    found = _run("report", db=db)
    assert found.exit_code == ExitCode.FOUND, found.output
    (tmp_path / "broken.yaml").write_text("registries: [\n")
    for args in (["--since", "last tuesday"], ["--config", str(tmp_path / "broken.yaml")]):
        result = _run("report", *args, db=db)
        assert result.exit_code == ExitCode.USAGE, (args, result.output)


def test_report_on_a_database_that_refuses_its_role_could_not_find_out() -> None:
    # The database opens (its revision is readable) but the history is not: the GRANTs of
    # the report's role are missing. Not a clean period (0), not a finding (1), not bad
    # input (2): the report could not find out.
    from sqlalchemy import create_engine, make_url, text

    from tagwatch.store import Store
    from tests.store.databases import (
        PG_ADMIN_URL,
        create_pg_database,
        drop_pg_database,
        require_postgres,
    )

    require_postgres()
    url = create_pg_database("tagwatch_refused")
    role = f"tw_reader_{str(make_url(url).database)[-12:]}"
    Store.open(url).close()  # migrated by its owner
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            connection.execute(text(f'GRANT SELECT ON alembic_version TO "{role}"'))
        result = _run(
            "report", db=make_url(url).set(username=role).render_as_string(hide_password=False)
        )
        assert result.exit_code == ExitCode.UNKNOWN, result.output
        [line] = result.stderr.strip().splitlines()
        assert "permission denied" in line, line
    finally:
        engine.dispose()
        drop_pg_database(url)
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
