"""Configuration: defaults from ``config/pmo.toml``, each overridable by an environment variable.

The TOML file is the one place that lists settings, roles and demo users, so the README, the CLI
and the tests all read the same values. ``PMO_CONFIG`` points at another file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_FILE = REPO_ROOT / "config" / "pmo.toml"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    roles: tuple[str, ...]
    email: str
    display_name: str = ""


def _coerce(raw: str, default: Any) -> Any:
    """Read an environment string as the type of the default it replaces."""
    if isinstance(default, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"expected a boolean, got {raw!r}")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def _resolve_sqlite_path(url: str) -> str:
    """Make a relative SQLite path relative to the repository, and create its folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        path = REPO_ROOT / url[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        return prefix + str(path)
    return url


def load_file(path: Path | None = None) -> dict[str, Any]:
    path = Path(os.environ.get("PMO_CONFIG", path or DEFAULT_CONFIG_FILE))
    with path.open("rb") as fh:
        return tomllib.load(fh)


# Settings with a default here when the file does not list them (environment variables still apply).
CODE_DEFAULTS: dict[str, Any] = {
    "SANDBOX_ISOLATION": True,       # scripts, expressions and templates run in worker processes
    "SANDBOX_WORKERS": 4,            # worker processes per server process, started on demand
    "SANDBOX_MEMORY_LIMIT_MB": 256,  # address space a run may add to its worker (RLIMIT_AS)
}


def load_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings for the Flask app: file defaults < environment < explicit overrides."""
    data = load_file()
    settings: dict[str, Any] = {**CODE_DEFAULTS, **data.get("settings", {})}
    for key, default in list(settings.items()):
        if key in os.environ:
            try:
                settings[key] = _coerce(os.environ[key], default)
            except ValueError as exc:
                raise ValueError(f"environment variable {key}: {exc}") from exc
    settings.update(overrides or {})
    settings["DATABASE_URL"] = _resolve_sqlite_path(settings["DATABASE_URL"])
    settings["ROLES"] = dict(data.get("roles", {}))
    settings["CALENDAR"] = dict(data.get("calendar", {}))
    settings["PORTFOLIO"] = dict(data.get("portfolio", {}))
    settings["DEMO_USERS"] = [
        DemoUser(u["username"], u["password"], tuple(u["roles"]), u.get("email", ""), u.get("display_name", ""))
        for u in data.get("demo_users", [])
    ]
    for key in ("WORKFLOWS_DIR", "FORMS_DIR"):
        settings[key] = str((REPO_ROOT / settings[key]).resolve())
    return settings
