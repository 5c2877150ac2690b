"""Issue 16 item 16: a row added to an array of strings is an empty input with its own id and label."""

from __future__ import annotations

import re

from app.inbox import formrender
from app.projects import operations as services
from tests.test_web import csrf_token, login


def test_new_row_is_empty_for_strings_and_an_object_for_objects():
    schema = {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}},
        "risks": {"type": "array", "items": {"type": "object", "properties": {
            "actions": {"type": "array", "items": {"type": "string"}}}}}}}
    assert formrender.new_row(schema, "tags") is None
    assert formrender.new_row(schema, "risks") == {}
    assert formrender.new_row(schema, "risks/0/actions") is None


def test_adding_an_objective_gives_an_empty_labelled_input(pmo, app):
    project = services.create_project("Customer portal relaunch", "maria", "sam", pmo.actors["maria"])
    task = pmo.task(project.lifecycle_instance_id, "write_charter")
    client = app.test_client()
    login(client, "maria")
    token = csrf_token(client, f"/tasks/{task.id}")
    page = client.post(f"/tasks/{task.id}", data={
        "csrf_token": token, "f:project_name": "Customer portal relaunch", "n:objectives": "1",
        "f:objectives/0": "Cut call volume", "action": "add:objectives"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="f:objectives/1" value=""' in html and "{}" not in html.split('name="f:objectives/1"')[1][:40]
    assert 'name="f:objectives/0" value="Cut call volume"' in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert duplicates == []
    assert re.search(r'<label for="field-objectives-1"[^>]*>Objective 2|<label for="field-objectives-1"', html)
    assert html.count('id="field-objectives-1"') == 1
