"""Items 11 and 12 (forms): placeholders are filled into the parsed form's string values, never
into JSON text; a form's ``pattern`` meets every user's input, so it runs with a timeout and
without holding the interpreter.

On the old code a project named ``Quote" test`` broke the charter form (500) and a crafted name
injected schema keys into another user's form; a backtracking ``pattern`` froze the server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import Invalid
from app.core.extensions import db
from app.definitions import forms
from app.definitions.models import Deployment, DeploymentFile
from app.inbox import formrender
from tests.threads import ticks_during as _ticks_during

FORMS = Path(__file__).resolve().parents[2] / "forms"
CHARTER = "initiation-charter-schema.json"
INJECT = 'Inject", "enum": ["hijacked"], "title": "INJECTED'


@pytest.fixture
def charter_deployment(app) -> int:
    deployment = Deployment(deployed_by="admin", source="test")
    content = (FORMS / CHARTER).read_bytes()
    deployment.files = [DeploymentFile(name=CHARTER, content=content, sha256="-")]
    db.session.add(deployment)
    db.session.commit()
    return deployment.id


@pytest.mark.parametrize("name", ['Quote" test', INJECT, "Back\\slash \\u0022 {{ 7 * 7 }}",
                                  "Control\x00\x01\x1f\n\t char", "</script><b>x</b>"])
def test_a_project_name_stays_a_string_value(charter_deployment, name):
    schema = forms.load_form(charter_deployment, CHARTER, {"project_name": name, "sponsor_reason": name})
    field = schema["properties"]["project_name"]
    assert field["default"] == name
    assert field["title"] == "Project name" and "enum" not in field
    assert schema["properties"]["sponsor_note"]["default"] == name
    assert set(schema["properties"]) == set(forms.load_form(charter_deployment, CHARTER)["properties"])


def test_an_injected_name_cannot_restrict_another_users_input(charter_deployment):
    schema = forms.load_form(charter_deployment, CHARTER, {"project_name": INJECT})
    assert formrender.validate(schema, {"project_name": "Anything else"}).get("project_name") is None


def test_a_broken_placeholder_keeps_the_raw_value(charter_deployment):
    schema = forms.load_form(charter_deployment, CHARTER, {"project_name": {"nested": "dict"}})
    assert schema["properties"]["project_name"]["default"] == "{'nested': 'dict'}"


BACKTRACKING = {"type": "object", "properties": {"code": {"type": "string", "pattern": "(a|a)+$"}}}
VALUE = {"code": "a" * 21 + "b"}




def test_backtracking_pattern_in_api_validation_is_bounded_and_lets_others_run():
    result, ticks = _ticks_during(lambda: forms.validate(BACKTRACKING, VALUE))
    assert isinstance(result, Invalid) and "code" in result.errors
    assert ticks >= 5


def test_backtracking_pattern_in_web_validation_is_bounded_and_lets_others_run():
    errors, ticks = _ticks_during(lambda: formrender.validate(BACKTRACKING, VALUE))
    assert errors == {"code": ["the value has the wrong format"]}
    assert ticks >= 5


def test_patterns_still_validate():
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^PRJ-[0-9]{3}$"}},
              "patternProperties": {"^x_": {"type": "integer"}}}
    forms.validate(schema, {"code": "PRJ-123", "x_a": 1})
    with pytest.raises(Invalid) as info:
        forms.validate(schema, {"code": "PRJ-12", "x_a": "one"})
    assert set(info.value.errors) == {"code", "x_a"}
