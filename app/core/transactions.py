"""The one way to write to the database: a transaction that starts as a write transaction.

Why: on SQLite (WAL) a transaction that begins by reading and then writes must upgrade its lock.
When another connection has committed in between, SQLite refuses at once with "database is
locked" (SQLITE_BUSY_SNAPSHOT: the busy timeout does not help, waiting cannot fix a stale
snapshot). A transaction opened with ``BEGIN IMMEDIATE`` takes the write lock first and waits for
it (``busy_timeout``), so concurrent writers queue instead of failing. Every write therefore runs in
``write_transaction()`` (or, for instance commands, starts with ``begin_write()``), which ends the
request's read transaction and opens ``BEGIN IMMEDIATE`` (see ``app._configure_engine``). On
PostgreSQL the same calls are plain transaction boundaries; row locks do the rest.

Rules: read what the write depends on *inside* the block (a value read before it may be stale), and
run no instance command inside it (a command commits on its own).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from flask import current_app
from sqlalchemy.orm import Session

from app.core.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

# Set while a write transaction is being opened, so SQLite starts it with BEGIN IMMEDIATE.
WRITE_TRANSACTION: contextvars.ContextVar[bool] = contextvars.ContextVar("pmo_write_txn", default=False)
# Set inside a ``write_transaction()`` block: a nested block joins it instead of committing it early.
_IN_BLOCK: contextvars.ContextVar[bool] = contextvars.ContextVar("pmo_in_write_block", default=False)


def commit_keeping_loaded() -> Session:
    """Commit without expiring what the session has loaded (callers re-read under locks what they rely on)."""
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = previous
    return session


def begin_write() -> None:
    """End any read transaction the request holds and start a write transaction.

    The objects read so far are not expired: a command re-reads what it relies on under the lock,
    and reloading the rest would cost a query each.
    """
    if _IN_BLOCK.get():
        raise RuntimeError("begin_write() inside write_transaction() would commit the block's work early")
    commit_keeping_loaded()
    token = WRITE_TRANSACTION.set(True)
    try:
        db.session.connection()
    finally:
        WRITE_TRANSACTION.reset(token)


@contextmanager
def write_transaction(*, keep_loaded: bool = False) -> Iterator[Session]:
    """Run the block in one write transaction: committed at its end, rolled back if it raises.

    ``keep_loaded`` commits without expiring the objects loaded before (a page being rendered
    after a set-based write that changed none of them). A nested block joins the outer one.
    """
    if _IN_BLOCK.get():
        yield db.session()
        return
    begin_write()
    token = _IN_BLOCK.set(True)
    try:
        yield db.session()
        if keep_loaded:
            commit_keeping_loaded()
        else:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _IN_BLOCK.reset(token)


def in_write_transaction(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a service function whose reads and writes form one write transaction (it must not commit)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with write_transaction():
            return fn(*args, **kwargs)

    return wrapper


def claim_lease_seconds() -> float:
    """How long a claim (an e-mail being sent, a message being delivered) holds before it is retried."""
    return float(current_app.config.get("CLAIM_LEASE_SECONDS", 300))
