"""Issue 9 item 8: with several schedulers or workers, each overdue notice, e-mail and message is
handled once: the work is claimed before it is done, and a claim whose worker died is retried.

The races are made certain, not likely: a hook in the first pass (at the moment it is doing the
work) runs a second, complete pass in another thread, with its own database connection. Before the
claims, both passes had read the same pending rows and both did the work.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.core.extensions import db
from app.core.models import utcnow
from app.definitions import operations as definitions
from app.inbox import notifications
from app.inbox.models import Notification, NotificationKind
from app.instances import commands as instances
from app.instances import events
from app.instances.models import HumanTask, Message, MessageStatus, ProcessInstance

FIXTURES = Path(__file__).parent / "fixtures"
ON_POSTGRES = os.environ.get("PMO_TEST_DATABASE_URL", "").startswith("postgresql")  # as tests/conftest.py
pytestmark = pytest.mark.postgres  # real concurrency there; SQLite serialises the writers

LISTENER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="Definitions_listener" targetNamespace="http://pmo.example/events">
  <bpmn:process id="order_listener" name="Order listener" isExecutable="true">
    <bpmn:startEvent id="start">
      <bpmn:messageEventDefinition id="md_order" messageRef="msg_order" />
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle" />
    <bpmn:userTask id="handle" name="Handle the order" />
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
  <bpmn:message id="msg_order" name="order_placed" />
</bpmn:definitions>
"""


def _in_thread(app, job: Callable[[], object], timeout: float = 60) -> object:  # noqa: ANN001
    """Run ``job`` to its end in another thread (own app context, session and connection)."""
    result: list[object] = []

    def run() -> None:
        with app.app_context():
            try:
                result.append(job())
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                result.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the second pass hung"
    return result[0]


def _second_pass_inside_first(app, monkeypatch, owner, name: str, second: Callable[[], object]):  # noqa: ANN001, ANN202
    """Patch ``owner.name`` so that its first call (in the first pass) runs ``second`` to its end first."""
    original = getattr(owner, name)
    seen: dict[str, object] = {}

    def hooked(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if not seen:
            seen["started"] = True  # the second pass's own calls go straight through
            seen["second"] = _in_thread(app, second)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, hooked)
    return seen


def _together(app, jobs: list[Callable[[], object]]) -> list[object]:  # noqa: ANN001
    """Run the jobs in threads released at the same moment; their results (or exceptions)."""
    db.session.remove()
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(index: int) -> None:
        results[index] = _in_thread(app, lambda: (barrier.wait(timeout=30), jobs[index]())[1])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def _first_pass(app, job: Callable[[], object]) -> object:  # noqa: ANN001
    db.session.remove()  # the test's own session keeps no read transaction (old snapshot) open
    return _in_thread(app, job)


# -- overdue notices ---------------------------------------------------------------------------

def _overdue_tasks(actors, count: int) -> list[str]:  # noqa: ANN001
    definitions.deploy_directory([FIXTURES], "admin")
    for project in range(count):
        instances.start("sla_approval", actors["maria"], {"project_id": project})
    ids = list(db.session.scalars(select(HumanTask.id).where(HumanTask.status == "ready")))
    db.session.execute(update(HumanTask).values(due_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    return ids


def _overdue_notices() -> Counter:
    return Counter(db.session.execute(select(Notification.task_id, Notification.username).where(
        Notification.kind == NotificationKind.OVERDUE)).all())


def test_two_overdue_passes_at_once_notify_each_task_and_person_once(app, actors, monkeypatch):
    tasks = _overdue_tasks(actors, 3)
    if ON_POSTGRES:
        seen = _second_pass_inside_first(app, monkeypatch, notifications, "_recipients", notifications.overdue_pass)
        first = _first_pass(app, notifications.overdue_pass)
    else:  # the second pass would wait for the first's write lock (BEGIN IMMEDIATE): start both at once
        first, second = _together(app, [notifications.overdue_pass] * 2)
        seen = {"second": second}
    assert not isinstance(first, BaseException), repr(first)
    assert not isinstance(seen["second"], BaseException), repr(seen["second"])

    notices = _overdue_notices()
    assert notices and max(notices.values()) == 1, notices  # nobody told twice
    assert {task for task, _ in notices} == set(tasks)
    assert first + seen["second"] == len(notices)
    assert notifications.overdue_pass() == 0  # and never again


def test_overdue_pass_crashing_mid_way_leaves_its_tasks_to_the_next_pass(app, actors, monkeypatch):
    _overdue_tasks(actors, 2)

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("worker died")

    monkeypatch.setattr(notifications, "notify", boom)
    with pytest.raises(RuntimeError):
        notifications.overdue_pass()
    monkeypatch.undo()
    assert db.session.scalar(select(func.count()).where(HumanTask.overdue_notified_at.is_not(None))) == 0
    assert notifications.overdue_pass() > 0  # the claim rolled back with the work


# -- e-mails -----------------------------------------------------------------------------------

def _pending_emails(demo_users, count: int) -> list[int]:  # noqa: ANN001
    users = [u for u in sorted(demo_users) if "@" in (demo_users[u].email or "")][:count]
    assert notifications.notify(db.session, users, NotificationKind.NEW_TASK, None, "Hello") == len(users)
    db.session.commit()
    return list(db.session.scalars(select(Notification.id).where(Notification.title == "Hello",
                                                                 Notification.username.in_(users))))


@pytest.fixture
def mailbox(app, monkeypatch):  # noqa: ANN001, ANN201
    sent: list[str] = []
    lock = threading.Lock()

    def send(to: str, subject: str, body: str, config=None) -> None:  # noqa: ANN001
        with lock:
            sent.append(to)

    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=2525)
    monkeypatch.setattr(notifications, "send_email", send)
    return sent


def test_two_mailers_at_once_send_each_email_once(app, demo_users, mailbox, monkeypatch):
    ids = _pending_emails(demo_users, 6)
    monkeypatch.setattr(notifications, "EMAIL_BATCH", 2, raising=False)  # the two mailers split the work
    seen = _second_pass_inside_first(app, monkeypatch, notifications, "send_email",
                                     notifications.deliver_pending_emails)
    first = _first_pass(app, notifications.deliver_pending_emails)
    assert not isinstance(first, BaseException), repr(first)
    assert not isinstance(seen["second"], BaseException), repr(seen["second"])

    assert len(mailbox) == len(ids) and len(set(mailbox)) == len(ids), Counter(mailbox)
    assert first + seen["second"] == len(ids) and seen["second"] > 0  # both mailers worked
    statuses = set(db.session.scalars(select(Notification.email_status).where(Notification.id.in_(ids))))
    assert statuses == {"sent"}


def test_an_email_claimed_by_a_mailer_that_died_is_sent_after_the_lease(app, demo_users, mailbox):
    [stale, fresh] = _pending_emails(demo_users, 2)
    now = utcnow()
    db.session.execute(update(Notification).where(Notification.id == stale).values(
        email_status="sending", email_claimed_at=now - timedelta(seconds=notifications.claim_lease_seconds() + 1)))
    db.session.execute(update(Notification).where(Notification.id == fresh).values(
        email_status="sending", email_claimed_at=now))  # another mailer is sending it right now
    db.session.commit()
    assert notifications.deliver_pending_emails() == 1
    db.session.expire_all()
    assert db.session.get(Notification, stale).email_status == "sent"
    assert db.session.get(Notification, fresh).email_status == "sending"
    assert len(mailbox) == 1


# -- messages ----------------------------------------------------------------------------------

@pytest.fixture
def listener(app, tmp_path):  # noqa: ANN001, ANN201
    folder = tmp_path / "listener"
    folder.mkdir()
    (folder / "listener.bpmn").write_text(LISTENER)
    return definitions.deploy_directory([folder], "admin")


def _orders(count: int) -> list[int]:
    messages = [Message(name="order_placed", payload={"order": i}, correlations={}, status=MessageStatus.PENDING)
                for i in range(count)]
    db.session.add_all(messages)
    db.session.commit()
    return [m.id for m in messages]


def _listeners() -> int:
    return db.session.scalar(select(func.count()).select_from(ProcessInstance).where(
        ProcessInstance.process_key == "order_listener"))


def test_two_dispatchers_at_once_start_one_instance_per_message(app, listener, monkeypatch):
    ids = _orders(4)
    seen = _second_pass_inside_first(app, monkeypatch, instances, "start", events.dispatch_pending)
    first = _first_pass(app, events.dispatch_pending)
    assert not isinstance(first, BaseException), repr(first)
    assert not isinstance(seen["second"], BaseException), repr(seen["second"])

    assert _listeners() == len(ids)  # before: one message started two instances
    rows = list(db.session.scalars(select(Message).where(Message.id.in_(ids))))
    assert {m.status for m in rows} == {MessageStatus.DELIVERED}
    targets = [t for m in rows for t in m.delivered_to]
    assert len(targets) == len(set(targets)) == len(ids)
    assert first + seen["second"] == len(ids)


def test_a_message_claimed_by_a_dispatcher_that_died_is_delivered_after_the_lease(app, listener):
    [stale, fresh] = _orders(2)
    now = utcnow()
    db.session.execute(update(Message).where(Message.id == stale).values(
        status=MessageStatus.DISPATCHING, claimed_by="dead",
        claimed_at=now - timedelta(seconds=notifications.claim_lease_seconds() + 1)))
    db.session.execute(update(Message).where(Message.id == fresh).values(
        status=MessageStatus.DISPATCHING, claimed_by="busy", claimed_at=now))
    db.session.commit()
    assert events.has_pending_messages()
    assert events.dispatch_pending() == 1
    db.session.expire_all()
    assert db.session.get(Message, stale).status == MessageStatus.DELIVERED
    assert db.session.get(Message, fresh).status == MessageStatus.DISPATCHING  # still its dispatcher's
    assert _listeners() == 1


def test_a_dispatcher_whose_claim_was_taken_over_records_nothing(app, listener, monkeypatch):
    """The lease ran out while this dispatcher was slow and another took the message over: the
    slow delivery rolls back whole (its mark is conditioned on its own claim)."""
    [message_id] = _orders(1)
    original = instances.receive_message

    def take_over() -> None:
        db.session.execute(update(Message).where(Message.id == message_id).values(claimed_by="someone-else"))
        db.session.commit()

    def taken_over(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        _in_thread(app, take_over)
        return original(*args, **kwargs)

    monkeypatch.setattr(instances, "receive_message", taken_over)
    assert events.dispatch_pending() == 0
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert message.status == MessageStatus.DISPATCHING and message.claimed_by == "someone-else"
    [waiting] = db.session.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "order_listener"))
    assert waiting.waiting["messages"]  # still waits: the next dispatcher delivers it there
    assert db.session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.element_id == "handle")) == 0
