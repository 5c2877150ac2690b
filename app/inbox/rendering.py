"""Task instructions: Jinja (sandboxed) with the task data, then Markdown (raw HTML off), then nh3."""

from __future__ import annotations

from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

from app.engine import templating

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
# No <img> ever reaches a viewer: an image written by one user would load from the author's
# server in every approver's browser (a tracking pixel); a same-origin one could fire a GET.
_NO_IMAGES = frozenset(nh3.ALLOWED_TAGS) - {"img", "picture", "source"}


def _image_as_link(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """``![alt](src)`` becomes a link to src labelled by its alt text (the reader may follow it)."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    label = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escapeHtml(src)}">{escapeHtml(label)}</a>'


_MARKDOWN.add_render_rule("image", _image_as_link)


def render_template(text: str, data: dict[str, Any]) -> str:
    """Jinja on a budget (every viewer renders it): a broken or too costly template shows the raw text."""
    return templating.render_or(text, data, fallback=text)


def render_instructions(text: str | None, data: dict[str, Any]) -> str:
    """Safe HTML for the instructions of a task ("" when there are none)."""
    if not text:
        return ""
    return nh3.clean(_MARKDOWN.render(render_template(text, data)), tags=_NO_IMAGES)


def task_instructions_html(task: Any, data: dict[str, Any]) -> str:
    """A task's instructions as its person sees (or saw) them: a completed task shows the text rendered
    when it was completed, an open one is rendered with ``data`` (the task's data now)."""
    if task.status != "ready" and getattr(task, "instructions_seen", None) is not None:
        return nh3.clean(_MARKDOWN.render(task.instructions_seen), tags=_NO_IMAGES)
    return render_instructions(task.instructions, data)
