"""State changes of the inbox that are not instance commands: a person's draft of a task form,
and comments on a task. (Claiming, assigning and completing are instance commands; delegation
and out-of-office routing are in ``delegation``.)"""

from __future__ import annotations

from typing import Any

from app.core import audit
from app.core.extensions import db
from app.core.models import utcnow
from app.core.transactions import write_transaction
from app.inbox.models import TaskComment, TaskDraft
from app.instances.models import HumanTask

MAX_COMMENT = 4000  # characters kept of one comment


def draft_of(task_id: str, username: str) -> TaskDraft | None:
    return db.session.get(TaskDraft, (task_id, username))


def save_draft(task: HumanTask, username: str, data: dict[str, Any]) -> TaskDraft:
    """Keep what ``username`` typed so far; nothing runs from a draft."""
    with write_transaction():
        return put_draft(task.id, username, data)


def put_draft(task_id: str, username: str, data: dict[str, Any]) -> TaskDraft:
    """``save_draft`` inside the caller's write transaction (a project proposed with the PM's charter)."""
    draft = draft_of(task_id, username) or TaskDraft(task_id=task_id, username=username)
    draft.data = data
    draft.saved_at = utcnow()
    db.session.add(draft)
    return draft


def discard_draft(task_id: str, username: str) -> None:
    """Forget the draft (asked for, or the task was completed)."""
    with write_transaction():
        draft = draft_of(task_id, username)
        if draft is not None:
            db.session.delete(draft)


def add_comment(task: HumanTask, author: str, body: str) -> TaskComment:
    """A comment on the task, seen by everyone who can open it; audited (its length, not its text)."""
    with write_transaction():
        comment = TaskComment(task_id=task.id, instance_id=task.instance_id, author=author,
                              body=body[:MAX_COMMENT])
        db.session.add(comment)
        audit.record(author, "comment", instance_id=task.instance_id, task_id=task.id,
                     process_key=task.process_key, length=len(comment.body))
    return comment
