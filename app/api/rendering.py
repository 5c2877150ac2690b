"""Task instructions: Jinja (sandboxed) with the task data, then Markdown (raw HTML off), then nh3."""

from __future__ import annotations

from typing import Any

import nh3
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt

_JINJA = SandboxedEnvironment(autoescape=False)
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_template(text: str, data: dict[str, Any]) -> str:
    try:
        return _JINJA.from_string(text).render(data)
    except Exception:  # noqa: BLE001 - a broken placeholder shows the raw text, never a 500
        return text


def render_instructions(text: str | None, data: dict[str, Any]) -> str:
    """Safe HTML for the instructions of a task ("" when there are none)."""
    if not text:
        return ""
    return nh3.clean(_MARKDOWN.render(render_template(text, data)))
