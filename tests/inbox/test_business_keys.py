"""The inbox and the task page know business keys only through the registry
(``app.instances.business_keys``): the domain that owns a key prefix labels its keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.core.extensions import db
from app.instances import business_keys
from app.instances import commands as instances
from app.instances.business_keys import KeyLabel
from app.instances.models import ProcessInstance
from tests.support.web import start_purchase, submit_request

KEY_LITERAL = re.compile(r"""["'{]project:|\[8:\]""")
INBOX = Path(__file__).resolve().parents[2] / "app" / "inbox"


def test_the_inbox_does_not_know_the_pmo():
    for path in [*INBOX.rglob("*.py"), *INBOX.rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        assert not KEY_LITERAL.search(text), path  # no "project:<id>" parsed or built here
        assert "app.projects" not in text, path


def test_the_projects_resolver_is_registered_by_the_app(app):
    assert "project:" in business_keys.resolvers()


class TicketKeys:
    """A made-up domain: ``ticket:<n>`` keys of a service desk."""

    prefix = "ticket:"

    def labels(self, keys):  # noqa: ANN001, ANN201
        return {k: KeyLabel(code=f"TCK-{k[7:]}", name="Broken printer", url=f"/tickets/{k[7:]}") for k in keys}

    def label_from_data(self, data):  # noqa: ANN001, ANN201
        return None

    def keys_matching(self, text):  # noqa: ANN001, ANN201
        return ["ticket:7"] if "printer" in text.lower() else []

    def card(self, key, data):  # noqa: ANN001, ANN201
        return {"code": "TCK-7", "name": "Broken printer on floor 3"} if key == "ticket:7" else None


@pytest.fixture
def tickets():
    business_keys.register(TicketKeys())
    yield
    business_keys.unregister("ticket:")


def test_another_domain_labels_its_keys_in_the_inbox_and_on_the_task_page(tickets, login, actors):
    instance = start_purchase(actors, "maria")
    submit_request(login("maria"), instance.id)
    keyed = start_purchase(actors, "maria", title="Toner")
    db.session.get(ProcessInstance, keyed.id).business_key = "ticket:7"
    db.session.commit()
    submit_request(login("maria"), keyed.id, **{"f:title": "Toner for the printer"})
    sam = login("sam")
    html = sam.html("/inbox?view=available")
    task = instances.ready_tasks(keyed.id)[0]
    row = html[html.index(f'data-task-id="{task.id}"'):]
    row = row[:row.index("</tr>")]
    assert "TCK-7" in row and "Broken printer" in row and "CRM-0042" not in row
    other = html[html.index(f'data-task-id="{instances.ready_tasks(instance.id)[0].id}"'):]
    assert "CRM-0042" in other[:other.index("</tr>")]  # the project fields in the data, as before
    filtered = sam.html("/inbox?view=available&project=printer")
    assert f'data-task-id="{task.id}"' in filtered
    assert f'data-task-id="{instances.ready_tasks(instance.id)[0].id}"' not in filtered
    page = sam.html(f"/tasks/{task.id}")
    assert "Broken printer on floor 3" in page and "TCK-7" in page
