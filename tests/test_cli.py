"""The ``pmo`` command, run in-process with click's runner against a fresh database.

On PostgreSQL (PMO_TEST_DATABASE_URL set) the migration tests use their own database,
``<test database>_cli``, dropped and created for each test, so they never see tables made by
``db.create_all()`` in the shared test database.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.cli import main
from app.core.extensions import db
from app.definitions import queries as definition_queries
from app.instances.models import HumanTask, ProcessInstance
from app.migrations import head_revision
from app.people import operations as users
from app.people import queries as user_queries
from app.people.models import User
from tests.conftest import fresh_database_url

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def cli_db(tmp_path: Path) -> str:
    """A database URL with nothing in it."""
    return fresh_database_url(tmp_path, "cli")


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    workflows, forms = tmp_path / "workflows", tmp_path / "forms"
    workflows.mkdir()
    forms.mkdir()
    return workflows, forms


@pytest.fixture
def run(cli_db: str, folders: tuple[Path, Path]):
    """Run ``pmo ARGS...`` with DATABASE_URL and empty workflow/form folders; return the result."""
    workflows, forms = folders
    runner = CliRunner()
    env = {"DATABASE_URL": cli_db, "WORKFLOWS_DIR": str(workflows), "FORMS_DIR": str(forms),
           "SECRET_KEY": "cli-test-secret"}

    def invoke(*args: str, input: str | None = None):  # noqa: A002
        result = runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)
        return result

    return invoke


@contextmanager
def app_context(url: str) -> Iterator[Flask]:
    """The app on ``url``, in an app context; its connections are closed afterwards."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "cli-test-secret"})
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _with_fixture_process(folders: tuple[Path, Path]) -> None:
    workflows, forms = folders
    shutil.copy(FIXTURES / "approval.bpmn", workflows)
    for form in FIXTURES.glob("*.json"):
        shutil.copy(form, forms)


# -- init and the migrations ------------------------------------------------------------------

def test_init_migrates_a_fresh_database_to_exactly_the_models(run, cli_db):
    result = run("init")
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output

    with app_context(cli_db), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert context.get_current_revision() == head_revision()
        differences = compare_metadata(context, db.metadata)
    assert differences == [], (
        "the models and the migrations differ; write a migration: make migration m='...'\n"
        + "\n".join(map(str, differences)))


def test_init_is_repeatable_and_stamps_a_create_all_database(run, cli_db):
    with app_context(cli_db):
        db.create_all()  # a database from before the migrations
    first = run("init")
    assert first.exit_code == 0, first.output
    second = run("init")
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output


def test_init_demo_seeds_users_and_prints_url_and_logins(run, cli_db):
    result = run("init", "--demo")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5000/" in result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["username", "password", "roles"])
    listed = {line.split()[0] for line in lines[header + 2:] if line.startswith("  ") and line.strip()}
    with app_context(cli_db) as app:
        expected = {u.username for u in app.config["DEMO_USERS"]}
        assert listed == expected
        for demo in app.config["DEMO_USERS"]:
            user = users.authenticate(demo.username, demo.password)
            assert set(user.roles) == set(demo.roles)
    again = run("init", "--demo")
    assert again.exit_code == 0, again.output
    with app_context(cli_db):
        assert db.session.scalar(select(func.count()).select_from(User)) == len(expected)


def test_init_demo_deploys_workflows_and_starts_demo_instances_once(run, cli_db, folders):
    _with_fixture_process(folders)
    first = run("init", "--demo")
    assert first.exit_code == 0, first.output
    assert "created   simple_approval v1" in first.output
    assert "demo-simple_approval-1: started simple_approval" in first.output
    second = run("init", "--demo")
    assert second.exit_code == 0, second.output
    assert "unchanged simple_approval v1" in second.output
    assert "demo-simple_approval-1: already there" in second.output
    with app_context(cli_db):
        assert db.session.scalar(select(func.count()).select_from(ProcessInstance)) == 2


def test_demo_file_starts_named_instances_and_runs_their_steps(run, cli_db, folders):
    _with_fixture_process(folders)
    (folders[0] / "demo.toml").write_text(
        '[[instances]]\nprocess = "simple_approval"\nbusiness_key = "demo-laptops"\nstarted_by = "maria"\n'
        'data = { title = "Laptops" }\n'
        '[[instances.steps]]\ntask = "submit"\nuser = "maria"\ndata = { title = "Laptops", cost = 900 }\n')
    result = run("init", "--demo")
    assert result.exit_code == 0, result.output
    assert "demo-laptops: started simple_approval" in result.output and "1 step(s) completed" in result.output
    with app_context(cli_db):
        instance = db.session.scalars(select(ProcessInstance)).one()
        assert instance.business_key == "demo-laptops"
        open_task = db.session.scalars(select(HumanTask).where(HumanTask.status == "ready")).one()
        assert open_task.element_id == "approve"


# -- deploy / validate ------------------------------------------------------------------------

def test_deploy_prints_created_then_unchanged(run):
    assert run("init").exit_code == 0
    first = run("deploy", str(FIXTURES))
    assert first.exit_code == 0, first.output
    assert "created   simple_approval v1 (Simple approval)" in first.output
    second = run("deploy", str(FIXTURES))
    assert second.exit_code == 0, second.output
    assert "unchanged simple_approval v1" in second.output


def _bad_bundle(tmp_path: Path) -> Path:
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(FIXTURES / "approval.bpmn", bad)
    for form in FIXTURES.glob("*.json"):
        shutil.copy(form, bad)
    (bad / "broken.bpmn").write_text("<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>")
    (bad / "broken-form.json").write_text("{ not json")
    return bad


def test_validate_valid_bundle(run):
    result = run("validate", str(FIXTURES))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid")
    assert "simple_approval" in result.output


def test_validate_reports_every_bad_file_one_per_line(run, tmp_path):
    result = run("validate", str(_bad_bundle(tmp_path)))
    assert result.exit_code == 1
    problem_lines = [line for line in result.output.splitlines() if not line.startswith("error:")]
    assert any(line.startswith("broken.bpmn:1: ") for line in problem_lines), result.output
    assert any(line.startswith("broken-form.json:1: ") for line in problem_lines), result.output
    for line in problem_lines:
        assert re.fullmatch(r"[^:]+:\d+: .+?: .+", line), line
    assert "error: 2 problem(s) found" in result.output


def test_deploy_invalid_bundle_fails_with_every_problem_and_deploys_nothing(run, tmp_path, cli_db):
    assert run("init").exit_code == 0
    result = run("deploy", str(_bad_bundle(tmp_path)))
    assert result.exit_code == 1
    assert "broken.bpmn:1:" in result.output and "broken-form.json:1:" in result.output
    assert "nothing was deployed" in result.output
    with app_context(cli_db):
        assert definition_queries.list_latest() == []


def test_missing_path_is_a_usage_error(run):
    result = run("validate", "/no/such/folder")
    assert result.exit_code == 2
    assert "does not exist" in result.output


# -- users and tokens -------------------------------------------------------------------------

def test_user_add_and_token(run, cli_db):
    assert run("init").exit_code == 0
    added = run("user", "add", "nina", "--role", "sponsor", "--role", "pmo", "--password", "s3cret-passphrase",
                "--email", "nina@example.org")
    assert added.exit_code == 0, added.output
    assert "created user nina with roles pmo, sponsor" in added.output
    token = run("token", "nina")
    assert token.exit_code == 0, token.output
    with app_context(cli_db):
        assert user_queries.identity_for_token(token.output.strip()) == ("nina", frozenset({"pmo", "sponsor"}))
        assert user_queries.find("nina").email == "nina@example.org"


def test_user_add_prompts_for_the_password(run):
    assert run("init").exit_code == 0
    result = run("user", "add", "omar", "--role", "pmo", input="pass1234\npass1234\n")
    assert result.exit_code == 0, result.output
    assert "created user omar" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (("user", "add", "x1", "--role", "wizard", "--password", "longenough"), "error: unknown role(s): wizard"),
    (("user", "add", "x2", "--role", "pmo", "--password", "abc"), "error: password too short"),
    (("token", "nobody"), "error: no user named 'nobody'"),
])
def test_errors_are_one_line_and_exit_1(run, args, message):
    assert run("init").exit_code == 0
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.output


def test_commands_on_an_uninitialised_database_say_to_run_init(run):
    result = run("token", "admin")
    assert result.exit_code == 1
    assert "pmo init" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_an_unmigrated_database_and_runs_a_migrated_one(run, monkeypatch):
    refused = run("serve")
    assert refused.exit_code == 1 and "run 'pmo init'" in refused.output
    assert run("init").exit_code == 0
    calls = {}
    monkeypatch.setattr(Flask, "run", lambda self, **kw: calls.update(kw))
    served = run("serve", "--port", "5077", "--no-scheduler")
    assert served.exit_code == 0, served.output
    assert calls == {"host": "127.0.0.1", "port": 5077, "threaded": True, "use_reloader": False, "debug": False}


def test_worker_refuses_when_tasks_run_in_process(run):
    assert run("init").exit_code == 0
    result = run("worker")
    assert result.exit_code == 1
    assert "nothing for a worker to do" in result.output


def test_the_worker_runs_two_pool_processes_per_cpu_unless_told(monkeypatch):
    from app import cli

    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert cli._default_concurrency(()) == ["--concurrency", "6"]
    assert cli._default_concurrency(("--pool=solo",)) == ["--concurrency", "6"]
    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: set(range(32)))
    assert cli._default_concurrency(()) == ["--concurrency", "8"]
    for given in (("-c", "2"), ("--concurrency", "2"), ("--concurrency=2",)):
        assert cli._default_concurrency(given) == []


def test_validate_a_workflow_folder_finds_the_forms_in_forms_dir(run, folders):
    workflows, forms = folders
    shutil.copy(FIXTURES / "approval.bpmn", workflows)
    for form in FIXTURES.glob("*.json"):
        shutil.copy(form, forms)
    result = run("validate", str(workflows))
    assert result.exit_code == 0, result.output
    assert "simple_approval" in result.output
    assert run("init").exit_code == 0  # init deploys both folders, as before
    (workflows / "approval.bpmn").write_text((FIXTURES / "approval.bpmn").read_text().replace(
        'name="Simple approval"', 'name="Simple approval, renamed"'))
    deployed = run("deploy", str(workflows))
    assert deployed.exit_code == 0, deployed.output
    assert "created   simple_approval v2" in deployed.output


def test_validate_one_bpmn_file_finds_the_forms_beside_it(run, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(FIXTURES, model)
    result = run("validate", str(model / "approval.bpmn"))
    assert result.exit_code == 0, result.output
    assert "simple_approval" in result.output


def test_the_shipped_workflows_validate_as_named_in_the_readme(cli_db):
    result = CliRunner().invoke(main, ["validate", "workflows/"], env={"DATABASE_URL": cli_db,
                                "SECRET_KEY": "cli-test-secret"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "project_lifecycle" in result.output
