"""Task instructions: Jinja (sandboxed) with the task data, then Markdown (raw HTML off), then nh3."""

from __future__ import annotations

from typing import Any

import nh3
from markdown_it import MarkdownIt

from ..engine import templating

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_template(text: str, data: dict[str, Any]) -> str:
    """Jinja on a budget (every viewer renders it): a broken or too costly template shows the raw text."""
    return templating.render_or(text, data, fallback=text)


def render_instructions(text: str | None, data: dict[str, Any]) -> str:
    """Safe HTML for the instructions of a task ("" when there are none)."""
    if not text:
        return ""
    return nh3.clean(_MARKDOWN.render(render_template(text, data)))
