"""The README's Slack section shows real messages: what the renderer makes of real alerts."""

from __future__ import annotations

from tests.notify.readme_examples import END, README, START, examples, in_readme, section
from tests.support.blockkit import as_text


def test_the_readme_shows_one_message_of_each_kind_as_the_renderer_makes_it() -> None:
    readme = README.read_text()
    assert in_readme(readme), f"README.md lost its {START} … {END} block"
    assert in_readme(readme) == section(), (
        "README's Slack examples differ from the renderer: "
        "run `uv run python -m tests.notify.readme_examples`"
    )
    kinds = {alert.kind for _, alert in examples()}
    assert {"move", "skew"} <= {k.value for k in kinds}


def test_the_text_form_shows_dates_and_links_as_a_reader_sees_them() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "app:prod was re-pushed"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "at <!date^1793534400^{date_short_pretty} {time}|2026-11-01T12:00:00Z> "
                "from <https://github.com/org/app> &lt;x&gt;\n*Old* ```sha256:aa```",
            },
        },
    ]
    assert as_text(blocks) == (
        "APP:PROD WAS RE-PUSHED\n\n"
        "at 2026-11-01T12:00:00Z from https://github.com/org/app <x>\n*Old*\n    sha256:aa"
    )
