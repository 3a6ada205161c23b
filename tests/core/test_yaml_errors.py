"""Every reader of YAML words a broken file the same way: the line, then PyYAML's problem."""

from __future__ import annotations

import pytest
import yaml

from tagwatch.core.yaml_errors import YamlProblem


def _error(text: str) -> yaml.YAMLError:
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.safe_load(text)
    return caught.value


def test_a_marked_error_names_its_line_and_problem_in_one_line() -> None:
    problem = YamlProblem.of(_error("a: 1\nb: [\n"))
    assert problem.line == 3
    assert problem.reason == "expected the node content, but found '<stream end>'"
    assert str(problem) == f"line 3: {problem.reason}"


def test_the_context_mark_stands_in_when_there_is_no_problem_mark() -> None:
    mark = yaml.Mark("f.yaml", 0, 4, 0, "", 0)
    exc = yaml.MarkedYAMLError(context="while scanning", context_mark=mark, problem="odd")
    assert str(YamlProblem.of(exc)) == "line 5: odd"


def test_an_error_without_position_keeps_its_first_line_only() -> None:
    assert str(YamlProblem.of(yaml.YAMLError("bad things\nmore detail"))) == "bad things"
    assert str(YamlProblem.of(yaml.YAMLError())) == "invalid YAML"
