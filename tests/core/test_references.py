"""ImageRef parses and normalises references exactly as Docker's distribution/reference does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import InvalidReference, UsageError

# The validity and normalisation table from distribution/reference's own tests
# (a copy of shared/testdata/reference-vectors.json, kept here so a clone runs anywhere).
VECTORS = json.loads((Path(__file__).parent / "data" / "reference-vectors.json").read_text())
SHA = "sha256:" + "ab" * 32


@pytest.mark.parametrize("name", VECTORS["valid"])
def test_valid_repository_names_from_distribution_parse(name: str) -> None:
    ImageRef.parse(name)


@pytest.mark.parametrize("name", VECTORS["invalid"])
def test_invalid_repository_names_from_distribution_are_refused(name: str) -> None:
    with pytest.raises(InvalidReference):
        ImageRef.parse(name)


@pytest.mark.parametrize("case", VECTORS["normalise"], ids=lambda c: c["input"])
def test_normalisation_matches_distribution(case: dict[str, str]) -> None:
    ref = ImageRef.parse(case["input"])
    assert ref.name == case["repository"]
    assert ref.registry == case["registry"]
    assert ref.repository == case["path"]
    assert ref.tag == "latest"


def test_vectors_file_has_the_documented_counts() -> None:
    assert (len(VECTORS["valid"]), len(VECTORS["invalid"]), len(VECTORS["normalise"])) == (
        35,
        27,
        48,
    )


def test_bare_name_is_docker_hub_library_latest() -> None:
    assert str(ImageRef.parse("nginx")) == "docker.io/library/nginx:latest"


@pytest.mark.parametrize("host", ["index.docker.io", "registry-1.docker.io", "docker.io"])
def test_docker_hub_aliases_mean_docker_io(host: str) -> None:
    assert str(ImageRef.parse(f"{host}/library/nginx:1.27")) == "docker.io/library/nginx:1.27"


def test_docker_hub_api_host_is_registry_1() -> None:
    assert ImageRef.parse("nginx").api_host == "registry-1.docker.io"
    assert ImageRef.parse("ghcr.io/org/app").api_host == "ghcr.io"


def test_first_part_is_a_host_only_with_dot_colon_or_localhost() -> None:
    assert ImageRef.parse("org/app").registry == "docker.io"
    assert ImageRef.parse("localhost/app").registry == "localhost"
    assert ImageRef.parse("localhost:5000/app").registry == "localhost:5000"
    assert ImageRef.parse("ghcr.io/org/app").registry == "ghcr.io"


def test_port_is_not_mistaken_for_a_tag() -> None:
    ref = ImageRef.parse("127.0.0.1:5000/team/app")
    assert (ref.registry, ref.repository, ref.tag) == ("127.0.0.1:5000", "team/app", "latest")


def test_tag_and_digest_together_keep_both() -> None:
    ref = ImageRef.parse(f"ghcr.io/org/app:v1@{SHA}")
    assert ref.tag == "v1"
    assert ref.digest == Digest.parse(SHA)
    assert ref.is_pinned
    assert str(ref) == f"ghcr.io/org/app:v1@{SHA}"


def test_digest_only_reference_has_no_default_tag() -> None:
    ref = ImageRef.parse(f"nginx@{SHA}")
    assert ref.tag is None
    assert str(ref) == f"docker.io/library/nginx@{SHA}"


def test_familiar_form_drops_docker_hub_defaults() -> None:
    assert ImageRef.parse("docker.io/library/nginx").familiar == "nginx:latest"
    assert ImageRef.parse("ghcr.io/org/app:v2").familiar == "ghcr.io/org/app:v2"


@pytest.mark.parametrize(
    ("raw", "part"),
    [
        ("nginx:bad tag", "tag"),
        ("nginx:-bad", "tag"),
        (f"nginx:{'a' * 129}", "tag"),
        ("Nginx/App", "repository path"),
        ("nginx@sha256:short", "64 lowercase hex"),
        ("nginx@md5", "no algorithm"),
        ("bad_host_/app", "repository path"),
        ("", "empty"),
        (" nginx", "white space"),
    ],
)
def test_bad_reference_error_names_the_bad_part(raw: str, part: str) -> None:
    with pytest.raises(InvalidReference) as info:
        ImageRef.parse(raw)
    assert part in str(info.value)
    assert isinstance(info.value, UsageError)


# No dots: a dotted first part would be read as a registry host, as Docker reads it.
_component = st.from_regex(r"[a-z0-9]{1,8}([_-][a-z0-9]{1,8}){0,2}", fullmatch=True)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)
_host = st.sampled_from(
    ["", "ghcr.io/", "localhost:5000/", "127.0.0.1:8080/", "registry.example.com/"]
)


@given(host=_host, parts=st.lists(_component, min_size=1, max_size=3), tag=_tag)
def test_parse_of_str_is_identity(host: str, parts: list[str], tag: str) -> None:
    ref = ImageRef.parse(f"{host}{'/'.join(parts)}:{tag}")
    assert ImageRef.parse(str(ref)) == ref
    assert ImageRef.parse(ref.familiar) == ref
    assert ref.tag == tag


@given(st.text(max_size=40))
def test_parse_never_fails_with_anything_but_invalid_reference(raw: str) -> None:
    try:
        ref = ImageRef.parse(raw)
    except InvalidReference:
        return
    assert ImageRef.parse(str(ref)) == ref
