"""The stylesheet parses as its authors meant: an unclosed block (easy to leave behind when
two changes append to the same file) silently moves every later rule into a media query."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "app.css"


def test_every_block_of_app_css_is_closed_before_the_next_top_level_rule_starts():
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    text = re.sub(r"\"[^\"]*\"|'[^']*'", "''", text)
    depth, unclosed = 0, []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("@media") and depth:
            unclosed.append(number)
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"app.css line {number} closes a block that was never opened"
    assert unclosed == [] and depth == 0, f"blocks left open before lines {unclosed} (depth at the end {depth})"
