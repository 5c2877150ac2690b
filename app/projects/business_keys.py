"""What ``project:<id>`` means to the inbox and the task page: the projects' business-key resolver.

A lifecycle process (and the processes it calls) runs with the business key ``project:<id>`` of
its project and the project's fields in its data (``operations.binding``). The inbox asks, through
``app.instances.business_keys``, for the code and name of each row's project and for the projects a
search text matches; the task page for the project card. Importing the projects package registers
the resolver (``app/projects/__init__.py``), and ``create_app`` imports every domain's models, so
web, CLI and Celery worker processes all have it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from app.core.extensions import db
from app.instances import business_keys
from app.instances.business_keys import KeyLabel
from app.projects.models import Project

PREFIX = "project:"
MAX_MATCHES = 500


def project_id(key: str | None) -> int | None:
    """The project id in a business key ``project:<id>`` (None for any other key)."""
    if key and key.startswith(PREFIX) and key[len(PREFIX):].isdigit():
        return int(key[len(PREFIX):])
    return None


def _url(pid: int) -> str:
    return f"/api/v1/projects/{pid}"


class ProjectKeys:
    prefix = PREFIX

    def labels(self, keys: list[str]) -> dict[str, KeyLabel]:
        """Every well-formed key gets its id; code and name when the project exists."""
        ids = {key: pid for key in keys if (pid := project_id(key)) is not None}
        found = {}
        if ids:
            found = {r.id: r for r in db.session.execute(
                select(Project.id, Project.code, Project.name).where(Project.id.in_(set(ids.values())))).all()}
        out = {}
        for key, pid in ids.items():
            row = found.get(pid)
            out[key] = (KeyLabel(code=row.code or "", name=row.name, id=pid, url=_url(pid)) if row is not None
                        else KeyLabel(id=pid))
        return out

    def label_from_data(self, data: dict[str, Any]) -> KeyLabel | None:
        """The project fields a lifecycle process carries in its data (``binding``)."""
        pid = data.get("project_id") if isinstance(data.get("project_id"), int) else None
        code, name = str(data.get("project_code") or ""), str(data.get("project_name") or "")
        if not (code or name or pid is not None):
            return None
        return KeyLabel(code=code, name=name, id=pid, url=_url(pid) if pid is not None else None)

    def keys_matching(self, text: str) -> list[str]:
        """Projects whose code or name contains ``text`` (case-insensitive); a key itself matches too."""
        like = f"%{text.lower()}%"
        ids = db.session.scalars(select(Project.id).where(or_(func.lower(Project.code).like(like),
                                                              func.lower(Project.name).like(like)))
                                 .limit(MAX_MATCHES))
        keys = [f"{PREFIX}{i}" for i in ids]
        if text.startswith(PREFIX):
            keys.append(text)
        return keys

    def card(self, key: str | None, data: dict[str, Any]) -> dict[str, Any] | None:
        """The project card of the task page: the project record, else the project fields in the data."""
        pid = project_id(key)
        if pid is None and isinstance(data.get("project_id"), int):
            pid = data["project_id"]
        project = None
        if pid is not None:
            try:
                project = db.session.get(Project, pid)
            except Exception:  # noqa: BLE001 - the projects table may not be migrated yet: the data says
                db.session.rollback()
        if project is not None:
            return {"code": project.code or "", "name": project.name, "project_manager": project.project_manager,
                    "sponsor": project.sponsor, "phase": project.phase, "status": project.status,
                    "rag": project.rag, "budget": project.budget_baseline or project.budget_estimate,
                    "target_end_date": project.target_end_date}
        if data.get("project_name") or data.get("project_code"):
            return {"code": data.get("project_code") or "", "name": data.get("project_name") or "",
                    "project_manager": data.get("project_manager"), "sponsor": data.get("sponsor")}
        return None


RESOLVER = business_keys.register(ProjectKeys())
