"""Layer matching: a base counts only when all its layers start the image; the longest wins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tagwatch.core.base_layers import BaseBuild, is_layer_prefix, match_base
from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef

layer = st.integers(0, 5).map(lambda n: Digest.parse(f"sha256:{n:064x}"))
layers = st.lists(layer, max_size=6).map(tuple)


def _build(name: str, base_layers: tuple[Digest, ...]) -> BaseBuild:
    image = Digest.of(name.encode() + b"".join(d.encoded.encode() for d in base_layers))
    return BaseBuild(ImageRef.parse(f"{name}:1"), image, image, base_layers)


@given(image=layers, bases=st.lists(layers, max_size=5))
def test_the_match_is_a_complete_prefix_and_no_longer_one_exists(
    image: tuple[Digest, ...], bases: list[tuple[Digest, ...]]
) -> None:
    candidates = [_build(f"base{i}", b) for i, b in enumerate(bases)]
    me = Digest.of(b"the image")
    found = match_base(me, image, candidates)
    prefixes = [c for c in candidates if c.layers and image[: len(c.layers)] == c.layers]
    if found is None:
        assert prefixes == []
    else:
        assert found.layers == image[: len(found.layers)]
        assert len(found.layers) == max(len(c.layers) for c in prefixes)


@given(image=layers, base=layers)
def test_a_base_sharing_only_some_leading_layers_never_counts(
    image: tuple[Digest, ...], base: tuple[Digest, ...]
) -> None:
    if base and image[: len(base)] != base:
        assert not is_layer_prefix(base, image)
        assert match_base(Digest.of(b"x"), image, [_build("sibling", base)]) is None


def test_the_longer_of_two_stacked_bases_wins() -> None:
    debian, python, app = (Digest.of(bytes([n])) for n in range(3))
    os_base = _build("debian", (debian,))
    runtime = _build("python", (debian, python))
    found = match_base(Digest.of(b"app"), (debian, python, app), [os_base, runtime])
    assert found == runtime


def test_an_image_is_never_its_own_base_and_an_empty_base_is_none() -> None:
    one = Digest.of(b"1")
    me = _build("me", (one,))
    assert match_base(me.image, (one,), [me]) is None
    assert match_base(Digest.of(b"x"), (one,), [_build("empty", ())]) is None
