"""The ``pmo`` command: set up the database, deploy and test processes, manage users, run the server.

Every command reads its settings (``DATABASE_URL`` first) from ``config/pmo.toml`` and the
environment, like the web app. Errors are printed as one line on stderr and exit with status 1.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask
from sqlalchemy.exc import OperationalError, ProgrammingError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _make_app(overrides: dict[str, Any] | None = None) -> Flask:
    from app import create_app

    try:
        return create_app(overrides)
    except (ValueError, OSError) as exc:  # a bad environment variable or config file
        _fail(str(exc))
        raise  # unreachable


def _problem_lines(errors: Any) -> list[str]:
    """Service errors carry problems as dicts (file, line, element, message) or field -> reasons."""
    from app.engine.bundle import Problem

    if isinstance(errors, list):
        lines = []
        for item in errors:
            if isinstance(item, dict) and {"file", "message"} <= item.keys():
                lines.append(str(Problem(item["file"], item.get("line"), item.get("element"), item["message"])))
            else:
                lines.append(str(item))
        return lines
    if isinstance(errors, dict):
        return [f"{field}: {reason}" for field, reasons in errors.items()
                for reason in (reasons if isinstance(reasons, list) else [reasons])]
    return []


def _handle_errors(func: F) -> F:
    """Turn the errors a command can meet into a clear message and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from app.core.errors import ServiceError

        try:
            return func(*args, **kwargs)
        except ServiceError as exc:
            lines = _problem_lines(exc.errors)
            for line in lines:
                click.echo(line, err=True)
            _fail(exc.detail)
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            _fail(f"database error ({reason}); is DATABASE_URL right, and did you run 'pmo init'?")

    return wrapper  # type: ignore[return-value]


def _actor_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:80]
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """PMO Flow: workflow and approval engine for a Project Management Office."""


# -- init --------------------------------------------------------------------------------------

@main.command()
@click.option("--demo", is_flag=True, help="Also create the demo users and demo process instances.")
@_handle_errors
def init(demo: bool) -> None:
    """Create or migrate the database, deploy workflows/ and forms/, and optionally seed demo data."""
    from app import migrations
    from app.people import operations as users
    from app.projects import demo as demo_data
    app = _make_app()
    with app.app_context():
        before, after = migrations.upgrade()
        if before == after:
            click.echo(f"database is up to date (revision {after})")
        else:
            click.echo(f"database migrated from {before or 'empty'} to revision {after}")
        _deploy_folders(app)
        if demo:
            created = users.seed_demo_users()
            click.echo(f"demo users: {len(created)} created, "
                       f"{len(app.config['DEMO_USERS']) - len(created)} already there")
            for line in demo_data.seed():
                click.echo(f"demo data: {line}")
        click.echo("")
        click.echo(f"PMO Flow is ready. Start it with 'pmo serve' and open {_url(app)}")
        if demo:
            _print_logins(app)
        else:
            click.echo("Create a user with: pmo user add NAME --role admin --password ...")


def _deploy_folders(app: Flask) -> None:
    from app.definitions import operations as definitions
    from app.engine.bundle import read_paths
    folders = [Path(app.config["WORKFLOWS_DIR"]), Path(app.config["FORMS_DIR"])]
    folders = [f for f in folders if f.is_dir()]
    files = read_paths(folders)
    if not any(f.name.endswith(".bpmn") for f in files):
        return  # nothing to deploy yet (decision tables alone go into the processes that use them)
    result = definitions.deploy_directory(folders, "pmo init")
    _print_deploy_result(result)


def _url(app: Flask) -> str:
    return str(app.config.get("SERVER_NAME_HINT") or "http://127.0.0.1:5000").rstrip("/") + "/"


def _print_logins(app: Flask) -> None:
    rows = [(u.username, u.password, ", ".join(u.roles)) for u in app.config["DEMO_USERS"]]
    if not rows:
        return
    headers = ("username", "password", "roles")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    click.echo("")
    click.echo("Demo logins:")
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        click.echo("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# -- serve -------------------------------------------------------------------------------------

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Fire due timers from a thread of this process (turn off when 'pmo scheduler' runs).")
@_handle_errors
def serve(host: str, port: int, scheduler: bool) -> None:
    """Run PMO Flow in one process (threaded). For several processes use gunicorn (see README)."""
    app = _make_app()
    _require_secret_key_beyond_loopback(app, host)
    _require_migrated(app)
    from app.engine import isolation

    isolation.warm_up()
    thread = None
    if scheduler:
        from app.instances.scheduler import SchedulerThread

        thread = SchedulerThread(app, float(app.config.get("SCHEDULER_INTERVAL_SECONDS", 0.25)))
        thread.start()
    click.echo(f"PMO Flow on http://{host}:{port}/ (Ctrl+C to stop)")
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False)
    finally:
        if thread is not None:
            thread.stop()


@main.command()
@click.option("--interval", type=click.FloatRange(0.05, 60), default=None,
              help="Seconds between two looks for due timers (default: SCHEDULER_INTERVAL_SECONDS).")
@_handle_errors
def scheduler(interval: float | None) -> None:
    """Fire due timers and deliver pending messages from this process, until Ctrl+C.

    Run it (once or more) when the web runs under gunicorn, or with 'pmo serve --no-scheduler'.
    """
    from app import ALWAYS_PING
    from app.instances.scheduler import run_forever

    app = _make_app(ALWAYS_PING)
    _require_migrated(app)
    interval = interval or float(app.config.get("SCHEDULER_INTERVAL_SECONDS", 0.25))
    click.echo(f"PMO Flow timer scheduler: looking for due timers every {interval:g} s (Ctrl+C to stop)")
    run_forever(app, interval)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@_handle_errors
def worker(celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker for background steps (needs CELERY_BROKER_URL, e.g. Redis).

    Extra arguments go to 'celery worker', for example: pmo worker --concurrency 8
    (the default is two pool processes per CPU this process may use, at most 8).
    """
    from app import ALWAYS_PING

    app = _make_app(ALWAYS_PING)
    _require_migrated(app)
    celery = app.extensions["celery"]
    if celery.conf.task_always_eager:
        _fail("CELERY_BROKER_URL is memory:// or CELERY_TASK_ALWAYS_EAGER is on: background tasks run "
              "inside the web process, so there is nothing for a worker to do")
    celery.worker_main(["worker", "--loglevel=INFO", "-Q", celery.conf.task_default_queue,
                        *_default_concurrency(celery_args), *celery_args])


def _default_concurrency(celery_args: tuple[str, ...]) -> list[str]:
    """Two pool processes per CPU unless told otherwise: a step spends much of its time waiting
    on the database, and with only one process per CPU the timers fall behind while the web
    processes keep the CPUs busy (bench/load_test.py: due timers stay within 2 s with 4 on 2 CPUs)."""
    if any(a in ("-c", "--concurrency") or a.startswith("--concurrency=") for a in celery_args):
        return []
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # Each process holds its own database connections: at most 8 unless asked for more.
    return ["--concurrency", str(min(2 * cpus, 8))]


def _require_secret_key_beyond_loopback(app: Flask, host: str) -> None:
    """Only this machine may reach a server whose key was generated here: others need SECRET_KEY."""
    from app.core.security import GENERATED, is_loopback, refusal

    if app.config.get("SECRET_KEY_SOURCE") == GENERATED and not is_loopback(host):
        _fail(refusal(f"--host {host} listens beyond this machine"))


def _require_migrated(app: Flask) -> None:
    from app import migrations

    with app.app_context():
        current, head = migrations.current_revision(), migrations.head_revision()
    if current != head:
        _fail(f"the database is at revision {current or '(empty)'} but the code needs {head}; run 'pmo init'")


# -- deploy / validate -------------------------------------------------------------------------

_PATHS = click.argument("paths", nargs=-1, required=True,
                        type=click.Path(exists=True, path_type=Path))


@main.command()
@_PATHS
@_handle_errors
def deploy(paths: tuple[Path, ...]) -> None:
    """Deploy BPMN, DMN and form files (files, folders or .zip): unchanged processes keep their version."""
    from app.definitions import operations as definitions
    app = _make_app()
    with app.app_context():
        result = definitions.deploy_directory(_with_forms(app, paths), _actor_name())
        _print_deploy_result(result)


def _with_forms(app: Flask, paths: tuple[Path, ...]) -> list[Path]:
    """The given paths, plus where their forms live: the configured FORMS_DIR (as `pmo init`
    deploys it) and, for a single BPMN/DMN file, the form files beside it (a SpiffArena model
    folder). Each file is read once, however many ways it is named."""
    extra = [Path(app.config["FORMS_DIR"])]
    for path in paths:
        if path.is_file() and path.suffix.lower() in {".bpmn", ".dmn"}:
            extra.extend(sorted(path.parent.glob("*.json")))
    chosen: list[Path] = []
    seen: set[Path] = set()
    for path in [*paths, *(p for p in extra if p.exists())]:
        resolved = path.resolve()
        if resolved in seen or any(parent in seen for parent in resolved.parents):
            continue
        seen.add(resolved)
        chosen.append(path)
    return chosen


def _print_deploy_result(result: Any) -> None:
    for v in result.created:
        click.echo(f"created   {v.process_key} v{v.version} ({v.name})")
    for v in result.unchanged:
        click.echo(f"unchanged {v.process_key} v{v.version} ({v.name})")
    if getattr(result, "note", ""):
        click.echo(result.note)


@main.command()
@_PATHS
@_handle_errors
def validate(paths: tuple[Path, ...]) -> None:
    """Check BPMN, DMN and form files without deploying; print every problem as file:line: element: message."""
    from app.core.errors import Invalid
    from app.definitions import operations as definitions
    from app.engine.bundle import BundleInvalid, read_paths

    app = _make_app()
    with app.app_context():
        try:
            files = read_paths(_with_forms(app, paths))
            bundle = definitions.validate_files(files)
        except BundleInvalid as exc:
            lines = [str(p) for p in exc.problems]
        except Invalid as exc:
            lines = _problem_lines(exc.errors)
        else:
            lines = []
    if lines:
        for line in lines:
            click.echo(line)
        _fail(f"{len(lines)} problem(s) found")
    for finding in bundle.notes:  # the Camunda import report: mapped and ignored extensions
        click.echo(str(finding))
    keys = ", ".join(sorted(bundle.processes)) or "no processes"
    click.echo(f"valid: {len(files)} file(s), {keys}")


def _without_sibling_scenarios(paths: tuple[Path, ...], files: list[Any]) -> list[Any]:
    """For a BPMN file named alone, only its own scenarios: the files beside it are read for their
    forms, and the scenarios of the other processes there are not asked for."""
    from app.engine.bundle import is_scenario_file

    named = [p for p in paths if p.is_file() and p.suffix.lower() == ".bpmn"]
    siblings = {q.name for p in named for q in p.parent.glob("test_*.json")}
    wanted = {f"test_{p.stem}.json" for p in named} | {p.name for p in paths if p.is_file()}
    in_folders = {q.name for p in paths if p.is_dir() for q in p.rglob("test_*.json")}
    unasked = siblings - wanted - in_folders
    return [f for f in files if not (is_scenario_file(f.name) and f.name in unasked)]


@main.command("test-processes")
@_PATHS
@_handle_errors
def test_processes(paths: tuple[Path, ...]) -> None:
    """Run the process test scenarios (test_<process>.json) of BPMN, DMN and form files in memory.

    One line per scenario, then a summary; exit status 1 when a scenario fails, a scenario file
    cannot be read or the files do not validate. Nothing is deployed or written.
    """
    import time

    from app.core.errors import Invalid
    from app.definitions import scenarios
    from app.engine.bundle import BundleInvalid, read_paths

    app = _make_app()
    started = time.monotonic()
    with app.app_context():
        files = _without_sibling_scenarios(paths, read_paths(_with_forms(app, paths)))
        try:
            results = scenarios.run_scenarios(files)
        except BundleInvalid as exc:
            problems = [str(p) for p in exc.problems]
        except Invalid as exc:
            problems = _problem_lines(exc.errors) or [exc.detail]
        else:
            problems = []
    if problems:
        for line in problems:
            click.echo(line)
        _fail(f"the files do not validate ({len(problems)} problem(s)): no scenario was run")
    for result in results:
        if result.scenario is None:
            click.echo(f"FAIL  {result.file}: no scenario of this file could run")
        else:
            click.echo(f"{'pass' if result.passed else 'FAIL'}  {result.process}: {result.scenario} "
                       f"({result.seconds * 1000:.0f} ms)")
        for reason in result.reasons():
            click.echo(f"      {reason}")
    if not results:
        _fail("no scenario files (test_<process>.json) found in " + ", ".join(str(p) for p in paths))
    ran = [r for r in results if r.scenario is not None]
    failed = [r for r in ran if not r.passed]
    not_run = len(results) - len(ran)
    click.echo(f"{len(ran) - len(failed)} passed, {len(failed)} failed"
               + (f", {not_run} scenario file(s) not run" if not_run else "")
               + f" in {time.monotonic() - started:.2f} s")
    if failed or not_run:
        sys.exit(1)


# -- token / user ------------------------------------------------------------------------------

@main.command()
@click.argument("username")
@_handle_errors
def token(username: str) -> None:
    """Print an API bearer token for USERNAME."""
    from app.core.errors import Forbidden
    from app.people import operations as users
    from app.people import queries as user_queries

    app = _make_app()
    with app.app_context():
        user = user_queries.get(username)
        if not user.active:
            raise Forbidden(f"user '{username}' is deactivated")
        click.echo(users.issue_token(user))


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeatable), see config/pmo.toml.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (prompted if not given).")
@click.option("--email", default="", help="E-mail address.")
@click.option("--name", "display_name", default="", help="Display name (defaults to the username).")
@_handle_errors
def user_add(username: str, roles: tuple[str, ...], password: str, email: str, display_name: str) -> None:
    """Create user USERNAME with one or more roles."""
    from app.people import operations as users
    app = _make_app()
    with app.app_context():
        created = users.create(username, password, roles, email=email, display_name=display_name,
                               actor=_actor_name())
        click.echo(f"created user {created.username} with roles {', '.join(created.roles)}")


if __name__ == "__main__":  # pragma: no cover
    main()
