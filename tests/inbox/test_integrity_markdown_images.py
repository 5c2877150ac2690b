"""Issue 9 item 20: an image in user-written Markdown never loads in another user's browser.

Before: a justification with ``![](https://tracker.example/p.gif)`` put an <img> on every
approver's task page (a tracking pixel: who opened it, when, from where).
"""

from __future__ import annotations

import re

import pytest

from app.inbox.rendering import render_instructions
from app.instances import commands as instances
from tests.support.web import start_purchase, submit_request

PIXEL = "https://tracker.example/p.gif?who=approver"


@pytest.mark.parametrize("text", [
    f"![pixel]({PIXEL})",
    f'![pixel]({PIXEL} "title")',
    f"![pixel][ref]\n\n[ref]: {PIXEL}",
    f"[![pixel]({PIXEL})](https://example.org)",
    f"<img src=\"{PIXEL}\">",  # raw HTML is off: shown as text
    "![local](/api/v1/health)",  # a same-origin image could fire a GET with the viewer's cookies
    "![data](data:image/gif;base64,R0lGODlhAQABAAAAACw=)",
])
def test_no_image_is_ever_rendered(text):
    html = render_instructions(text, {})
    assert "<img" not in html and "<picture" not in html and "<source" not in html


def test_an_external_image_becomes_a_link_labelled_by_its_alt_text():
    html = render_instructions(f"See ![the plan]({PIXEL})", {})
    assert re.search(r'<a href="https://tracker\.example/p\.gif\?who=approver"[^>]*>the plan</a>', html), html
    assert 'rel="noopener noreferrer"' in html
    assert render_instructions("![](https://x.example/a.png)", {}).count("https://x.example/a.png") == 2


def test_a_tracking_pixel_in_a_request_is_a_link_on_the_approvers_page(login, actors):
    instance = start_purchase(actors)
    submit_request(login("maria"), instance.id, **{"f:justification": f"Old ones. ![]({PIXEL})"})
    review = instances.ready_tasks(instance.id)[0]
    page = login("admin").html(f"/tasks/{review.id}")
    assert f'href="{PIXEL}"' in page  # still reachable, as a link the approver may choose to follow
    assert not re.search(r"<img[^>]+tracker\.example", page)
