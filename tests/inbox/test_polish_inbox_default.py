"""Issue 16 item 7: the inbox opens on the view that has work. People whose work comes through
their role (a sponsor, the quality lead) land on "Available to claim", not on "Assigned to me 0"."""

from __future__ import annotations

from tests.support.web import start_purchase, submit_request


def _current_view(html: str) -> str:
    marker = 'aria-current="page" data-view="'
    return html[html.index(marker) + len(marker):].split('"')[0]


def test_role_worker_lands_on_available_to_claim(login, actors):
    instance = start_purchase(actors, "maria")
    submit_request(login("maria"), instance.id, **{"f:title": "Laptops for the data team"})
    html = login("sam").html("/inbox")
    assert _current_view(html) == "available"
    assert "Approve purchase Laptops for the data team" in html and "Claim</button>" in html
    assert 'data-live-url="/inbox/live?view=available' in html  # live updates keep the view
    # an explicit view is still honoured
    assert _current_view(login("sam").html("/inbox?view=mine")) == "mine"


def test_own_work_first_and_empty_inbox_opens_on_assigned_to_me(login, actors):
    start_purchase(actors, "paul")  # his own request, assigned to him by lane
    assert _current_view(login("paul").html("/inbox")) == "mine"
    assert _current_view(login("chen").html("/inbox")) == "mine"  # nothing anywhere
