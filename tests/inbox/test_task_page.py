"""The task page: form widgets, validation at fields with values kept, complete, drafts, comments,
XSS, CSRF, 404 for tasks a user may not see, the diagram route."""

from __future__ import annotations

import re

from app.core.audit import AuditEntry
from app.core.extensions import db
from app.inbox.models import TaskComment, TaskDraft
from app.instances import commands as instances
from tests.support.web import GOOD_REQUEST, start_purchase, submit_request


def test_request_form_renders_every_widget_kind(login, actors):
    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]
    html = login("maria").html(f"/tasks/{task.id}")
    assert '<input type="text" id="field-title" name="f:title"' in html
    assert '<textarea id="field-justification" name="f:justification"' in html
    assert 'inputmode="decimal" id="field-amount"' in html and "EUR" in html          # money
    assert 'inputmode="numeric" id="field-quantity"' in html                            # integer
    assert '<input type="date" id="field-needed_by" name="f:needed_by"' in html        # date
    assert '<select id="field-category" name="f:category"' in html and ">Hardware</option>" in html
    assert 'type="radio" id="field-urgency-0" name="f:urgency" value="low"' in html    # radio
    assert 'type="checkbox" id="field-budgeted" name="f:budgeted"' in html              # boolean
    assert 'name="n:items" value="0"' in html and 'value="add:items"' in html          # array
    assert 'aria-readonly="true"' in html                                               # read-only
    assert "A short name, e.g." in html and "Why the project needs it." in html        # help / description
    assert html.count('<span class="required" aria-hidden="true">*</span>') >= 5       # required marks
    assert '<label for="field-title" class="field-label">Title' in html                # labels
    assert "<strong>purchase</strong> for Customer portal" in html                      # instructions (markdown)
    assert "CRM-0042" in html and "Customer portal" in html                             # project summary
    assert 'data-xml-url="/tasks/' in html and 'data-element="submit"' in html


def test_add_and_remove_rows_without_javascript(login, actors):
    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]
    maria = login("maria")
    data = {"f:title": "Kept title", "n:items": "0", "action": "add:items"}
    html = maria.post(f"/tasks/{task.id}", data, token_from=f"/tasks/{task.id}").get_data(as_text=True)
    assert 'name="n:items" value="1"' in html and 'name="f:items/0/name"' in html
    assert 'value="Kept title"' in html and "field-error" not in html
    data = {"f:title": "Kept title", "n:items": "2", "f:items/0/name": "A", "f:items/1/name": "B",
            "action": "remove:items/0"}
    html = maria.post(f"/tasks/{task.id}", data, token_from=f"/tasks/{task.id}").get_data(as_text=True)
    assert 'name="n:items" value="1"' in html and 'name="f:items/0/name" value="B"' in html


def test_validation_errors_at_their_fields_and_values_kept(login, actors):
    instance = start_purchase(actors)
    maria = login("maria")
    task, response = submit_request(maria, instance.id, **{"f:title": "ab", "f:amount": "lots", "f:needed_by": "",
                                                            "f:items/0/cost": "-3"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'role="alert"' in html and "The form has errors" in html
    assert re.search(r'id="field-title-error">.*Enter at least 3 characters', html)
    assert re.search(r'id="field-amount-error">.*Enter a number', html)
    assert re.search(r'id="field-needed_by-error">.*This field is required', html)
    assert re.search(r'id="field-items-0-cost-error">.*Must be at least 0', html)
    assert 'aria-describedby="field-title-help field-title-error"' in html and 'aria-invalid="true"' in html
    assert 'value="ab"' in html and 'value="lots"' in html and "Old ones are five years old." in html
    assert 'value="hardware" selected' in html and 'value="high" checked' in html
    assert instances.ready_tasks(instance.id)[0].id == task.id  # nothing completed


def test_complete_goes_back_to_the_inbox_with_a_confirmation(login, actors):
    instance = start_purchase(actors)
    maria = login("maria")
    task, response = submit_request(maria, instance.id)
    assert response.status_code == 303 and "/inbox?completed=" in response.headers["Location"]
    html = maria.html(response.headers["Location"])
    assert "Completed:" in html and "Submit purchase request" in html
    entry = db.session.query(AuditEntry).filter_by(action="complete_task", task_id=task.id).one()
    assert entry.details["data"]["amount"] == 12500.5 and entry.details["data"]["quantity"] == 5
    assert entry.details["data"]["budgeted"] is True
    assert entry.details["data"]["items"] == [{"name": "Laptop", "cost": 2500}]


def test_reject_needs_a_comment_and_the_requester_sees_the_reason(login, actors):
    instance = start_purchase(actors)
    submit_request(login("maria"), instance.id)
    review = instances.ready_tasks(instance.id)[0]
    sam = login("sam")
    html = sam.html(f"/tasks/{review.id}")
    assert "Laptops for the data team" in html and "Old ones are five years old." in html  # earlier step
    assert "(required for some choices)" in html and "Required unless you approve." in html
    response = sam.post(f"/tasks/{review.id}", {"f:decision": "reject", "action": "complete"},
                        token_from=f"/tasks/{review.id}")
    assert response.status_code == 422
    assert re.search(r'id="field-reviewer_note-error">.*This field is required', response.get_data(as_text=True))
    response = sam.post(f"/tasks/{review.id}", {"f:decision": "request_changes", "f:reviewer_note": "Get 3 quotes.",
                                                "action": "complete"}, token_from=f"/tasks/{review.id}")
    assert response.status_code == 303
    again = instances.ready_tasks(instance.id)[0]
    html = login("maria").html(f"/tasks/{again.id}")
    assert "Get 3 quotes." in html and 'value="Laptops for the data team"' in html


def test_next_task_in_the_same_instance_is_offered(web, deployed, login, actors, demo_users):
    from app.people.models import UserRole

    demo_users["maria"].role_rows.append(UserRole(role="sponsor"))  # submits and approves (no exclusion)
    db.session.commit()
    instance = instances.start("simple_approval", instances.Actor.of(demo_users["maria"]), {"title": "Desk"})
    task = instances.ready_tasks(instance.id)[0]
    maria = login("maria")
    response = maria.post(f"/tasks/{task.id}", {"f:title": "Desk", "f:cost": "300", "action": "complete"},
                          token_from=f"/tasks/{task.id}")
    assert response.status_code == 303 and "next=" in response.headers["Location"]
    following = instances.ready_tasks(instance.id)[0]
    html = maria.html(response.headers["Location"])
    assert 'data-testid="next-task"' in html and f'href="/tasks/{following.id}"' in html and "Approve Desk" in html


def test_drafts_are_saved_and_restored(login, actors):
    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]
    maria = login("maria")
    response = maria.post(f"/tasks/{task.id}", {"f:title": "Half-written", "f:amount": "12", "action": "save_draft"},
                          token_from=f"/tasks/{task.id}")
    assert response.status_code == 302
    assert db.session.get(TaskDraft, (task.id, "maria")).data == {"title": "Half-written", "amount": 12,
                                                                  "budgeted": False}
    html = maria.html(f"/tasks/{task.id}")
    assert "Draft saved" in html and 'value="Half-written"' in html and "continuing your draft" in html
    submit_request(maria, instance.id)
    assert db.session.get(TaskDraft, (task.id, "maria")) is None


def test_comments_thread_and_history(login, actors):
    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]
    maria = login("maria")
    response = maria.post(f"/tasks/{task.id}/comments", {"body": "Quotes attached in the share."},
                          token_from=f"/tasks/{task.id}")
    assert response.status_code == 303
    html = maria.html(f"/tasks/{task.id}")
    assert "Quotes attached in the share." in html and "maria" in html
    assert ">History<" in html and "start" in html and "comment" in html
    assert maria.post(f"/tasks/{task.id}/comments", {"body": "  "}, token_from=f"/tasks/{task.id}").status_code == 303
    assert db.session.query(TaskComment).count() == 1


def test_untrusted_text_never_runs_as_script(login, actors):
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    instance = start_purchase(actors, project_name=evil)
    maria = login("maria")
    task, _ = submit_request(maria, instance.id, **{"f:title": "Evil " + evil, "f:justification": evil})
    review = instances.ready_tasks(instance.id)[0]
    sam = login("sam")
    sam.post(f"/tasks/{review.id}/comments", {"body": evil}, token_from=f"/tasks/{review.id}")
    for page in (f"/tasks/{review.id}", "/inbox?view=available", "/notifications"):
        html = sam.html(page)
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html, page
        assert "&lt;script&gt;" in html, page
    inbox = maria.html("/inbox?view=waiting")
    assert "<script>alert" not in inbox


def test_csrf_is_required_on_every_form(login, actors):
    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]
    maria = login("maria")
    for path, data in ((f"/tasks/{task.id}", {**GOOD_REQUEST, "action": "complete"}),
                       (f"/tasks/{task.id}/comments", {"body": "x"}), (f"/tasks/{task.id}/unclaim", {}),
                       ("/notifications/read", {}), ("/account/out-of-office", {"action": "cancel"})):
        assert maria.client.post(path, data=data).status_code == 400, path
    assert instances.ready_tasks(instance.id)[0].id == task.id


def test_others_tasks_are_404_everywhere(login, actors):
    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]  # maria's (process initiator)
    paul = login("paul")
    for path in (f"/tasks/{task.id}", f"/tasks/{task.id}/diagram.bpmn", "/tasks/not-a-task"):
        assert paul.get(path).status_code == 404, path
    for action in ("", "/claim", "/unclaim", "/assign", "/delegate", "/comments", "/return"):
        assert paul.post(f"/tasks/{task.id}{action}", {"body": "x", "action": "complete"}).status_code == 404, action
    assert "Laptops" not in paul.html("/inbox?view=available")


def test_diagram_is_served_to_who_can_see_the_task(login, actors):
    instance = start_purchase(actors)
    task = instances.ready_tasks(instance.id)[0]
    response = login("maria").get(f"/tasks/{task.id}/diagram.bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert b'<bpmn:userTask id="submit"' in response.data


def test_completed_task_shows_what_was_submitted_read_only(login, actors):
    instance = start_purchase(actors)
    maria = login("maria")
    task, _ = submit_request(maria, instance.id)
    html = maria.html(f"/tasks/{task.id}")
    assert "What was submitted" in html and "Submit</button>" not in html
    assert 'value="Laptops for the data team"' in html and "disabled" in html
