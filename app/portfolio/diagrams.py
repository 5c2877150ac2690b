"""The deployed BPMN of a process, for the heat map, and the names of its steps, for the tables.

Human tasks remember the BPMN process their step belongs to (a called phase for lifecycle steps);
the diagram is the newest deployed file that defines it. Read with lxml (never SpiffWorkflow: only
the engine imports it), parsed once per file content.
"""

from __future__ import annotations

import functools

from lxml import etree
from sqlalchemy import select

from app.core import caches
from app.core.errors import NotFound
from app.core.extensions import db
from app.definitions.models import Deployment, DeploymentFile
from app.inbox.diagram_names import stripped

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


@functools.lru_cache(maxsize=128)
def _parse(content: bytes) -> dict[str, tuple[str, dict[str, str]]]:
    """``{process id: (process name, {element id: element name})}`` of one BPMN file."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return {}
    found = {}
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        elements = {el.get("id"): stripped(el.get("name") or "")
                    for el in process.iter() if isinstance(el.tag, str) and el.get("id") and el.get("name")}
        found[process.get("id") or ""] = (process.get("name") or process.get("id") or "", elements)
    return found


def _newest_files() -> list[int]:
    """Ids of every deployed BPMN file, newest deployment first (files never change once deployed)."""
    return list(db.session.scalars(
        select(DeploymentFile.id).join(Deployment, Deployment.id == DeploymentFile.deployment_id)
        .where(DeploymentFile.name.like("%.bpmn")).order_by(Deployment.id.desc(), DeploymentFile.id)))


@functools.lru_cache(maxsize=512)
def _file(file_id: int) -> tuple[bytes, dict[str, tuple[str, dict[str, str]]]]:
    content = bytes(db.session.scalar(select(DeploymentFile.content).where(DeploymentFile.id == file_id)) or b"")
    return content, _parse(content)


caches.register(_file.cache_clear)  # file ids are per database: a new database starts empty


def names_for(process_ids: set[str]) -> dict[object, str]:
    """``{process id: name, (process id, element id): step name}`` from the newest diagrams."""
    names: dict[object, str] = {}
    wanted = set(process_ids)
    for file_id in _newest_files():
        processes = _file(file_id)[1]
        for pid in list(wanted):
            if pid in processes:
                name, elements = processes[pid]
                names[pid] = name
                names.update({(pid, eid): ename for eid, ename in elements.items()})
                wanted.discard(pid)
        if not wanted:
            break
    return names


def diagram_xml(process_id: str) -> str:
    for file_id in _newest_files():
        content, processes = _file(file_id)
        if process_id in processes:
            return content.decode("utf-8")
    raise NotFound(f"no deployed diagram defines process '{process_id}'")
