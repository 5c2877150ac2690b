"""The events fixtures include a service task of the external operator ``test/BookBudget``: operators
are checked at deploy time, so it is registered (as a stub) for every test here that deploys them;
test_external_calls.py registers the real one."""

from __future__ import annotations

import pytest

from app.engine.runtime import EXTERNAL_OPERATORS, OPERATORS, register_operator


@pytest.fixture(autouse=True)
def _book_budget_operator():
    if "test/BookBudget" in OPERATORS:
        yield
        return

    @register_operator("test/BookBudget", external=True)
    def book(call):  # noqa: ANN001, ANN202
        raise AssertionError("the stub operator is never called")

    yield
    if OPERATORS.get("test/BookBudget") is book:
        OPERATORS.pop("test/BookBudget", None)
        EXTERNAL_OPERATORS.discard("test/BookBudget")
