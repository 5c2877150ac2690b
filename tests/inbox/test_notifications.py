"""In-app notifications (new task, overdue, decided) and e-mail through SMTP on loopback."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest

from app.core.extensions import db
from app.core.models import utcnow
from app.inbox import notifications
from app.inbox.models import Notification
from app.instances import commands as instances
from app.instances.models import HumanTask
from tests.support.web import start_purchase, submit_request


def test_new_task_for_my_role_and_decision_for_the_requester(login, actors):
    instance = start_purchase(actors)
    assert [n.username for n in db.session.query(Notification).filter_by(kind="new_task")] == ["maria"]
    submit_request(login("maria"), instance.id)
    sam = login("sam")
    html = sam.html("/inbox")
    assert 'data-testid="unread-count"' in html
    assert "New task for you or your role: Approve purchase" in sam.html("/notifications")
    review = instances.ready_tasks(instance.id)[0]
    sam.post(f"/tasks/{review.id}", {"f:decision": "reject", "f:reviewer_note": "No budget left.",
                                     "action": "complete"}, token_from=f"/tasks/{review.id}")
    html = login("maria").html("/notifications")
    assert "Your request was decided (reject)" in html and "No budget left." in html
    assert notifications.unread_count("sam") == 0  # opening the task read its notice


def test_overdue_pass_notifies_once(login, actors):
    instance = start_purchase(actors)
    submit_request(login("maria"), instance.id)
    review = db.session.get(HumanTask, instances.ready_tasks(instance.id)[0].id)
    review.due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert notifications.overdue_pass() == 1
    assert notifications.overdue_pass() == 0
    assert "Overdue: Approve purchase" in login("sam").html("/notifications")


def test_mark_all_read(login, actors):
    start_purchase(actors)
    maria = login("maria")
    assert notifications.unread_count("maria") == 1
    maria.post("/notifications/read", token_from="/notifications")
    assert notifications.unread_count("maria") == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message

    received = []

    class Collect(Message):
        def handle_message(self, message):  # noqa: ANN001, ANN202
            received.append(message)

    port = _free_port()
    controller = aiosmtpd.Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_emails_go_out_through_smtp_once(web, login, actors, smtp_server):
    port, received = smtp_server
    assert notifications.deliver_pending_emails() == 0  # off while SMTP_HOST is unset
    web.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="pmo@pmo.example")
    instance = start_purchase(actors)
    submit_request(login("maria"), instance.id)
    sent = notifications.deliver_pending_emails()
    assert sent >= 2
    deadline = time.time() + 5
    while len(received) < sent and time.time() < deadline:
        time.sleep(0.05)
    to_sam = [m for m in received if m["To"] == "sam.sponsor@pmo.example"]
    assert to_sam and to_sam[0]["From"] == "pmo@pmo.example"
    assert "Approve purchase" in to_sam[0]["Subject"]
    assert "/tasks/" in to_sam[0].get_payload()
    assert notifications.deliver_pending_emails() == 0  # never twice
