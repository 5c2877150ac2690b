"""Issue 16 item 18: the repair buttons are readable, and Retry says what really happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import StepFailed
from app.definitions import operations as definitions
from app.instances import commands as instances
from tests.ops.test_admin_pages import client, incident  # noqa: F401 - fixtures
from tests.ops.test_operations import FINANCE, _flaky_operator  # noqa: F401 - autouse fixture
from tests.test_web import csrf_token, login

POLISH = Path(__file__).parent / "fixtures_polish"


def test_repair_buttons_are_not_white_on_white(client, incident):  # noqa: F811
    login(client, "admin")
    html = client.get("/admin/operations").get_data(as_text=True)
    assert ">Retry</button>" in html and ">Skip step</button>" in html
    # .button.secondary is the header's white-on-dark style: not for buttons on the light page
    assert 'class="button secondary"' not in html.split("</header>", 1)[-1]
    assert 'class="button secondary-light">Retry<' in html


def test_retry_of_a_failed_completion_says_nothing_ran_again(client, app, actors):  # noqa: F811
    definitions.deploy_directory([POLISH], "admin")
    instance = instances.start("flaky_after_person", actors["petra"], {"amount": 5})
    [task] = instances.ready_tasks(instance.id)
    instances.claim(task.id, actors["petra"])
    with pytest.raises(StepFailed):
        instances.complete(task.id, actors["petra"], {})
    assert instances.get(instance.id).status == "error"
    login(client, "admin")
    token = csrf_token(client, "/admin/operations")
    page = client.post(f"/admin/instances/{instance.id}/retry", data={"csrf_token": token, "reason": "fixed"},
                       follow_redirects=True).get_data(as_text=True)
    assert "retry done" not in page
    assert "nothing ran again" in page and "petra" in page and "Confirm the booking" in page
    assert FINANCE["calls"] == 1
    FINANCE["up"] = True
    instances.complete(task.id, actors["petra"], {})
    assert [t.title for t in instances.ready_tasks(instance.id)] == ["Check booking"]


def test_retry_of_an_automatic_step_says_it_ran_again(client, incident):  # noqa: F811
    login(client, "admin")
    FINANCE["up"] = True
    token = csrf_token(client, "/admin/operations")
    page = client.post(f"/admin/instances/{incident}/retry", data={"csrf_token": token, "reason": "back"},
                       follow_redirects=True).get_data(as_text=True)
    assert "the failed step ran again" in page and "Check booking" in page
