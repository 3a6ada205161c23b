"""One duration grammar for every flag, config key and API parameter."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tagwatch.core.durations import (
    DURATION_GRAMMAR,
    DURATION_PATTERN,
    MAX_SECONDS,
    parse_duration,
)
from tagwatch.errors import InvalidDuration, UsageError


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("250ms", 0.25),
        ("5m", 300),
        ("1h30m", 5400),
        ("7d", 7 * 86400),
        ("2w", 14 * 86400),
        ("1d12h", 36 * 3600),
        ("1m30s500ms", 90.5),
        ("1.5s", 1.5),
        (" 5m ", 300),
        (90, 90),
        (0.5, 0.5),
    ],
)
def test_every_form_of_the_grammar_reads_as_seconds(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(
    "raw", ["", "soon", "5m1h", "1h1h", "5 m", "ms", "-5m", "1e3", ".nan", ".inf", "5M", "1y"]
)
def test_text_outside_the_grammar_is_refused_with_an_example(raw: str) -> None:
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(raw)
    assert caught.value.problem == "must be a duration like 5m"
    assert str(caught.value) == f"{raw!r} must be a duration like 5m"


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf, True, None, [5]])
def test_values_that_are_not_finite_numbers_are_refused(raw: object) -> None:
    with pytest.raises(InvalidDuration, match="must be a duration like 5m"):
        parse_duration(raw)


@pytest.mark.parametrize("raw", ["99999999w", "9" * 400, 10**400, MAX_SECONDS + 1])
def test_spans_longer_than_a_century_are_refused_in_one_line(raw: object) -> None:
    with pytest.raises(InvalidDuration, match="must be at most 100 years") as caught:
        parse_duration(raw)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 80


@pytest.mark.parametrize("raw", ["0", "0s", 0, -1])
def test_zero_and_negative_spans_are_refused_unless_zero_is_allowed(raw: object) -> None:
    with pytest.raises(InvalidDuration, match="positive"):
        parse_duration(raw)
    if raw != -1:
        assert parse_duration(raw, allow_zero=True) == 0


def test_a_bad_duration_is_a_usage_error_and_a_value_error() -> None:
    # UsageError: the CLI exits 2; ValueError: pydantic and FastAPI report it as bad input.
    with pytest.raises(UsageError):
        parse_duration("soon")
    with pytest.raises(ValueError):
        parse_duration("soon")


@given(st.from_regex(DURATION_PATTERN, fullmatch=True))
def test_everything_the_api_pattern_admits_is_a_readable_duration(raw: str) -> None:
    seconds = parse_duration(raw, allow_zero=True)
    assert 0 <= seconds <= MAX_SECONDS


@given(
    st.lists(st.integers(min_value=0, max_value=99), min_size=6, max_size=6),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_units_combine_in_order_and_add_up(amounts: list[int], present: list[bool]) -> None:
    units = [("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1), ("ms", 0.001)]
    picked = zip(amounts, units, present, strict=True)
    chosen = [(n, u, size) for n, (u, size), keep in picked if keep]
    assume(chosen)
    raw = "".join(f"{n}{u}" for n, u, _ in chosen)
    expected = sum(n * size for n, _, size in chosen)
    assert re.fullmatch(DURATION_PATTERN, raw)
    if expected == 0:
        assert parse_duration(raw, allow_zero=True) == 0
    else:
        assert parse_duration(raw) == pytest.approx(expected)


@given(st.from_regex(DURATION_GRAMMAR, fullmatch=True))
def test_everything_the_grammar_pattern_admits_parses_or_is_only_too_long(raw: str) -> None:
    try:
        assert parse_duration(raw, allow_zero=True) >= 0
    except InvalidDuration as exc:
        assert exc.problem == "must be at most 100 years"


@pytest.mark.parametrize("raw", ["", "soon", "5m1h", "5 m", "ms", "-5m"])
def test_the_grammar_pattern_refuses_what_the_parser_refuses(raw: str) -> None:
    assert not re.fullmatch(DURATION_GRAMMAR, raw)
