"""The built wheel carries the pages: Jinja templates, CSS, the vendored Swagger UI, and an
installed copy finds them (a page that works from the checkout only would be blank when
installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "tagwatch" / "web" / "pages"


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH: the wheel is built with `uv build`", pytrace=False)
    return uv


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [_uv(), "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("tagwatch-*.whl")
    return built


def _assets() -> list[str]:
    """Every template and static file of the pages, as a path inside the wheel."""
    return sorted(
        str(p.relative_to(ROOT))
        for folder in ("templates", "static")
        for p in (PAGES / folder).rglob("*")
        if p.is_file()
    )


def test_the_wheel_holds_every_template_and_static_asset_as_in_the_checkout(wheel: Path) -> None:
    assets = _assets()
    assert {
        "tagwatch/web/pages/templates/feed.html",
        "tagwatch/web/pages/templates/tag.html",
        "tagwatch/web/pages/templates/cluster.html",
        "tagwatch/web/pages/static/style.css",
        "tagwatch/web/pages/static/swagger-ui/swagger-ui-bundle.js",
        "tagwatch/web/pages/static/swagger-ui/swagger-ui.css",
        "tagwatch/web/pages/static/swagger-ui/LICENSE",
    } <= set(assets)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = [a for a in assets if a not in names]
        assert missing == []
        changed = [a for a in assets if archive.read(a) != (ROOT / a).read_bytes()]
        assert changed == []


def test_an_installed_wheel_renders_its_templates_and_finds_its_assets(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "-q", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [_uv(), "pip", "install", "-q", "--no-deps", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
    )
    # The dependencies come from this environment's site-packages, put on PYTHONPATH: a path
    # there is not a site directory, so the checkout's editable install is not seen, and
    # `tagwatch` is the installed copy.
    probe = (
        "import sys, tagwatch.web.pages.render as r\n"
        "assert r.__file__.startswith(sys.argv[1]), r.__file__\n"
        "for name in ('feed.html', 'tag.html', 'cluster.html', 'error.html', 'login.html'):\n"
        "    r.templates.get_template(name)\n"
        "bundle = r.STATIC / 'swagger-ui' / 'swagger-ui-bundle.js'\n"
        "assert bundle.stat().st_size > 100_000, bundle\n"
        "print(r.STATIC)\n"
    )
    env = os.environ | {"PYTHONPATH": sysconfig.get_paths()["purelib"]}
    env.pop("VIRTUAL_ENV", None)
    run = subprocess.run(
        [str(python), "-c", probe, str(venv)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(str(venv))
