"""Every command that takes an image reference answers bad ones with one line and exit 2:
a reference pinned to a digest alone, a port out of range, an empty string (issue 13 #6),
and, by hypothesis, whatever else is typed: never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tagwatch.cli.main import app
from tagwatch.core.references import ImageRef
from tagwatch.errors import InvalidReference

DIGEST = "sha256:" + "a" * 64
#: Each command that takes references, as typed before the reference.
COMMANDS = [
    ["history"],
    ["check"],
    ["drift"],
    ["backfill"],
    ["watch", "add"],
    ["watch", "remove"],
]
BAD = {
    "digest only": f"127.0.0.1:5000/shop/web@{DIGEST}",
    "port out of range": "127.0.0.1:99999/shop/web:prod",
    "port zero": "localhost:0/shop/web:prod",
    "empty": "",
}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAGWATCH_CONFIG", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no credentials
    url = f"sqlite:///{tmp_path / 'tw.db'}"
    monkeypatch.setenv("TAGWATCH_DATABASE_URL", url)
    return url


@pytest.mark.parametrize("ref", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_bad_reference_is_one_line_and_exit_2(db: str, command: list[str], ref: str) -> None:
    result = CliRunner().invoke(app, [*command, ref])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines


def test_a_digest_only_reference_says_to_name_the_tag(db: str) -> None:
    result = CliRunner().invoke(app, ["history", f"127.0.0.1:5000/shop/web@{DIGEST}"])
    assert result.output.strip() == (
        f"error: 127.0.0.1:5000/shop/web@{DIGEST} is pinned to a digest and has no tag: "
        "name the tag (REPO:TAG) instead"
    )


def test_a_port_out_of_range_does_not_parse() -> None:
    with pytest.raises(InvalidReference, match="port 99999 is not between 1 and 65535"):
        ImageRef.parse("127.0.0.1:99999/shop/web:prod")
    assert ImageRef.parse("127.0.0.1:65535/shop/web:prod").registry == "127.0.0.1:65535"


#: Text people might type, and text that nearly parses (on a registry nobody listens on).
TYPED = st.text(max_size=40) | st.builds(
    "127.0.0.1:1/{}".format,
    st.text(alphabet="abc:/@._-sha256ABC0123456789", max_size=40),
)


def _offline(raw: str) -> bool:
    """Whether a command can take `raw` without leaving loopback."""
    try:
        return ImageRef.parse(raw).registry == "127.0.0.1:1"
    except InvalidReference:
        return True


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(command=st.sampled_from(COMMANDS), raw=TYPED)
def test_any_reference_gets_an_answer_never_a_traceback(
    db: str, command: list[str], raw: str
) -> None:
    assume(_offline(raw))
    result = CliRunner().invoke(app, [*command, "--", raw])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1, 2, 3), result.output  # 3: a gate could not find out
    if result.exit_code == 2:
        assert len(result.output.strip().splitlines()) == 1, result.output
