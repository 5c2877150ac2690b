"""Inbox views, counts, rows, filters, sort, search, pagination, bookmarkable URLs and the live endpoint."""

from __future__ import annotations

from datetime import timedelta

from app.core.extensions import db
from app.core.models import utcnow
from app.inbox import queries as inbox
from app.instances import commands as instances
from app.instances.models import HumanTask
from tests.support.web import start_purchase, submit_request


def _to_review(login, actors, title="Laptops for the data team", user="maria"):  # noqa: ANN001, ANN201
    instance = start_purchase(actors, user)
    submit_request(login(user), instance.id, **{"f:title": title})
    return instance, instances.ready_tasks(instance.id)[0]


def test_views_and_counts(login, actors):
    instance, review = _to_review(login, actors)
    start_purchase(actors, "paul")
    sam = login("sam")
    html = sam.html("/inbox?view=available")
    assert 'data-count="available">1<' in html and 'data-count="mine">0<' in html
    assert "Approve purchase Laptops for the data team" in html and "Claim</button>" in html
    row = html[html.index(f'data-task-id="{review.id}"'):]
    assert "CRM-0042" in row and "Customer portal" in row and "Purchase request" in row
    assert "Project sponsor" in row and "High" in row and "Overdue" not in row[:2000]
    # inboxFields, by the one formatting rule (issue 16 item 4): money in the currency, a date for people
    assert "Amount" in row and "€12,500.50" in row and "Needed by" in row and "Mar 1, 2027" in row
    maria = login("maria")
    html = maria.html("/inbox?view=waiting")
    assert "Approve purchase Laptops" in html and 'data-count="waiting">1<' in html
    assert 'data-count="completed">1<' in html
    assert "Submit purchase request" in maria.html("/inbox?view=completed")
    paul = login("paul")
    assert 'data-count="mine">1<' in paul.html("/inbox")  # his own request, assigned to him by lane


def test_excluded_user_does_not_see_it_as_available(login, actors, demo_users):
    from app.people.models import UserRole

    demo_users["maria"].role_rows.append(UserRole(role="sponsor"))
    db.session.commit()
    _to_review(login, actors)
    assert "Approve purchase" not in login("maria").html("/inbox?view=available")
    assert inbox.counts("maria", ["project_manager", "sponsor"])["available"] == 0


def test_filters_sort_search_and_pagination_are_in_the_url(login, actors):
    for i in range(7):
        _to_review(login, actors, title=f"Request number {i}")
    overdue = instances.ready_tasks(instances.start("ccb_vote", actors["maria"], {"title": "Scope change"}).id)[0]
    row = db.session.get(HumanTask, overdue.id)
    row.due_at = utcnow() - timedelta(days=2)
    db.session.commit()
    sam = login("sam")
    html = sam.html("/inbox?view=available&q=number+3")
    assert "Request number 3" in html and "Request number 4" not in html and "1 task " in html
    html = sam.html("/inbox?view=available&per_page=5&sort=title")
    assert "Request number 0" in html and "Request number 6" not in html and "Page 1 of 2" in html
    assert "page=2" in html and "sort=title" in html  # the pager keeps the filter
    html = sam.html("/inbox?view=available&per_page=5&sort=title&page=2")
    assert "Request number 6" in html and "Request number 0" not in html
    html = sam.html("/inbox?view=available&sort=title&direction=desc")
    assert html.index("Request number 6") < html.index("Request number 1")
    assert "Scope change" not in html  # sam is not on the CCB
    carla = login("carla")
    html = carla.html("/inbox?view=available&overdue=1")
    assert "CCB vote: Scope change" in html and 'class="overdue"' in html and "Overdue" in html
    assert "No tasks match" in carla.html("/inbox?view=available&process=purchase_request")
    assert "Scope change" in carla.html("/inbox?view=available&role=ccb_member&due=week")
    assert "No tasks match" in sam.html("/inbox?view=available&project=NOPE")
    assert 'value="number 3"' in sam.html("/inbox?view=available&q=number+3")


def test_a_filtered_view_counts_its_own_tab_and_its_matches(login, actors):
    for i in range(3):
        _to_review(login, actors, title=f"Request number {i}")
    sam = login("sam")
    html = sam.html("/inbox?view=available&q=number+1")
    # the tab counts the whole view, the result line the matches, from the page's one pass
    assert 'data-count="available">3<' in html and "1 task " in html and "(filtered)" in html
    html = sam.html("/inbox?view=available&q=number&per_page=5&page=4")  # past the end: no row carries them
    assert 'data-count="available">3<' in html and "3 tasks " in html
    html = sam.html("/inbox?view=available&q=nothing-like-this")
    assert 'data-count="available">3<' in html and "No tasks match" in html
    html = sam.html("/inbox?view=available&role=sponsor")
    assert "3 tasks " in html and 'data-count="available">3<' in html
    assert "No tasks match" in sam.html("/inbox?view=available&role=ccb_member")
    page = inbox.view("sam", ["sponsor"], inbox.InboxQuery.from_args({"view": "available", "q": "number 2"}),
                      counts={})
    assert page.total == 1 and [r.task.title for r in page.rows] == ["Approve purchase Request number 2"]
    maria = login("maria")  # finished tasks' candidate rows are closed: the role filter still finds them
    from app.instances.models import HumanTaskCandidate, TaskStatus
    for task in db.session.query(HumanTask).filter(HumanTask.status == TaskStatus.COMPLETED):
        task.candidates.append(HumanTaskCandidate(role="project_manager", is_open=False))  # as a lane role leaves it
    db.session.commit()
    assert "3 tasks " in maria.html("/inbox?view=completed&role=project_manager")
    assert "No tasks match" in maria.html("/inbox?view=completed&role=sponsor")


def test_query_round_trip():
    query = inbox.InboxQuery.from_args({"view": "available", "q": "x", "overdue": "1", "page": "3", "sort": "bogus"})
    assert query.sort == "due" and query.page == 3
    assert inbox.InboxQuery.from_args(query.params()) == query
    assert inbox.InboxQuery.from_args({"view": "nope", "page": "-4"}).view == "mine"


def test_live_endpoint_reports_changes_and_claimed_tasks_disappear(login, actors):
    _, review = _to_review(login, actors)
    carla, chen = login("carla"), login("chen")
    vote = instances.ready_tasks(instances.start("ccb_vote", actors["maria"], {"title": "Scope"}).id)[0]
    first = carla.get("/inbox/live?view=available").get_json()
    assert vote.id in first["html"] and first["counts"]["available"] == 1
    assert carla.get(f"/inbox/live?view=available&sig={first['signature']}").status_code == 204
    chen.post(f"/tasks/{vote.id}/claim")
    changed = carla.get(f"/inbox/live?view=available&sig={first['signature']}").get_json()
    assert vote.id not in changed["html"] and changed["counts"]["available"] == 0
    assert 'data-live-url="/inbox/live?view=available"' in carla.html("/inbox?view=available")
    del review


def test_home_links_to_tasks(login, actors):
    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]
    assert f'href="/tasks/{task.id}"' in login("maria").html("/")
