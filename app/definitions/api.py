"""Process definitions: list, show with versions, deploy (multipart upload of files or zips)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from flask import Blueprint, request

from app.api.docs import doc
from app.api.io import View, dump, query
from app.core.errors import Invalid, NotFound
from app.definitions import operations as definitions
from app.definitions import queries as definition_queries
from app.definitions.schemas import (
    UPLOAD_BODY,
    DefinitionListOut,
    DefinitionOut,
    DeployOut,
    DeployQuery,
    ValidateOut,
)
from app.engine.bundle import BundleFile, BundleInvalid, read_zip
from app.people.auth import require_roles

# Routes under /api/v1, nested in the shared API blueprint (app/api): its token check,
# error answers and OpenAPI document cover them.
bp = Blueprint("definitions", __name__)

BUNDLE_SUFFIXES = (".bpmn", ".dmn", ".json")


@bp.get("/process-definitions")
@doc(summary="The latest version of every process", tags=["process definitions"],
     responses={200: DefinitionListOut})
def list_definitions():  # noqa: ANN201
    return dump(DefinitionListOut, {"items": definition_queries.list_latest()})


@bp.get("/process-definitions/<key>")
@doc(summary="A process: its latest version and every version", tags=["process definitions"],
     responses={200: DefinitionOut}, errors=(404,))
def get_definition(key: str):  # noqa: ANN201
    versions = definition_queries.versions_of(key)
    if not versions:
        raise NotFound(f"no process definition with key '{key}'")
    return dump(DefinitionOut, View(versions[-1], versions=versions))


def _uploaded_files() -> tuple[list[BundleFile], list[dict[str, Any]], str]:
    """The files of the upload (zips expanded) and the problems found while reading them."""
    uploads = request.files.getlist("files")
    if not uploads:
        raise Invalid("no files uploaded", errors={"files": ["send one or more files in the multipart "
                                                            "field 'files'"]})
    files: list[BundleFile] = []
    problems: list[dict[str, Any]] = []
    names = []
    for upload in uploads:
        name = PurePosixPath((upload.filename or "").replace("\\", "/")).name or "(unnamed)"
        names.append(name)
        content = upload.read()
        suffix = PurePosixPath(name).suffix.lower()
        if suffix == ".zip":
            try:
                files.extend(read_zip(content, name))
            except BundleInvalid as exc:
                problems.extend(p.as_dict() for p in exc.problems)
        elif suffix in BUNDLE_SUFFIXES:
            files.append(BundleFile(name, content))
        else:
            problems.append({"file": name, "line": None, "element": None,
                             "message": "unsupported file type (send .bpmn, .dmn, .json or .zip)"})
    return files, problems, "api upload: " + ", ".join(names)


def _validated(files: list[BundleFile], problems: list[dict[str, Any]]) -> list[str]:
    """Validate everything and raise one Invalid listing every problem; return the process keys."""
    keys: list[str] = []
    if files:
        try:
            keys = sorted(definitions.validate_files(files).processes)
            if not keys and not any(f.name.endswith((".dmn", ".json")) and f.name != "process_model.json"
                                    for f in files):
                problems = problems + [{"file": f.name, "line": None, "element": None,
                                        "message": "the bundle holds no process (no .bpmn file with a "
                                                   "bpmn:process): nothing would be deployed"} for f in files]
        except Invalid as exc:
            problems = problems + list(exc.errors or [])
    elif not problems:
        problems = [{"file": "(bundle)", "line": None, "element": None,
                     "message": "no .bpmn, .dmn or .json files found"}]
    if problems:
        raise Invalid(f"the upload has {len(problems)} problem(s); nothing was deployed", errors=problems)
    return keys


@bp.post("/process-definitions")
@doc(summary="Deploy (or with validate_only=true, only validate) process files",
     tags=["process definitions"], body=UPLOAD_BODY, body_type="multipart/form-data", query=DeployQuery,
     responses={201: DeployOut, 200: {"oneOf": [DeployOut, ValidateOut]}}, errors=(403, 413),
     description="Deploys .bpmn/.dmn/.json files or .zip archives (field `files`, repeatable) as one "
                 "bundle: 201 when new versions were created, 200 when everything was unchanged, 422 "
                 "listing every problem (file, line, element, message) with nothing deployed. With "
                 "`validate_only=true` answers 200 `{valid: true, processes}` or 422. DMN tables (and forms) "
                 "sent without a BPMN file are deployed as a new version of every process that uses "
                 "them, built from its latest deployed files (`note` says which); 422 when no deployed "
                 "process uses them.")
def deploy_definitions():  # noqa: ANN201
    actor = require_roles("process_owner", "admin")
    options = query(DeployQuery)
    files, problems, source = _uploaded_files()
    if problems or options["validate_only"]:
        keys = _validated(files, problems)  # raises Invalid whenever there is a problem
        return dump(ValidateOut, {"valid": True, "processes": keys})
    result = definitions.deploy(files, actor.username, source=source[:300])
    return dump(DeployOut, result, 201 if result.created else 200)
