"""`tagwatch history -o json` writes its array as it reads: the same text as one json.dumps."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tagwatch.cli.history import _write_json_array


@pytest.mark.parametrize(
    "items",
    [[], [{"ref": "a:1"}], [{"ref": "a:1", "nested": {"x": [1, 2]}}, {"ref": "b:2", "n": None}]],
)
def test_streamed_array_is_the_text_json_dumps_gives(
    items: list[dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    _write_json_array(iter(items))
    assert capsys.readouterr().out == json.dumps(items, indent=2) + "\n"


def test_streamed_array_consumes_items_one_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    written: list[int] = []

    def items() -> Iterator[dict[str, int]]:
        for n in range(3):
            # everything before this item is already written when it is asked for
            written.append(len(capsys.readouterr().out))
            yield {"n": n}

    _write_json_array(items())
    assert written[0] == 0 and written[1] > 0 and written[2] > 0
