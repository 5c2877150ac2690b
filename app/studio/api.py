"""The studio's API under /api/v1: a version's files and export, diffs between versions, drafts and
their files, checks, scenarios, publishing and the form preview. Reading is open to everyone signed
in; changing is for process owners and admins."""

from __future__ import annotations

from flask import Blueprint, Response

from app.api.docs import doc
from app.api.io import View, body, dump, query
from app.definitions.schemas import DeployOut
from app.people.auth import current_actor, require_roles
from app.studio import operations as studio
from app.studio import queries as studio_queries
from app.studio import rendering
from app.studio.scenario_runs import as_view, run_draft_scenarios, scenario_runner
from app.studio.schemas import (
    DiffOut,
    DiffQuery,
    DraftCheckOut,
    DraftIn,
    DraftListOut,
    FileDeleteQuery,
    FileIn,
    PreviewIn,
    PreviewOut,
    PublishIn,
    SavedOut,
    ScenarioRunOut,
    StudioDraftOut,
    VersionFilesOut,
)

bp = Blueprint("studio", __name__)

EDITORS = ("process_owner", "admin")
TAGS = ["studio"]


def _draft_view(draft, with_content: bool = True) -> View:  # noqa: ANN001
    files = [View(f, kind=studio_queries.file_kind(f.name), content=f.content if with_content else None)
             for f in draft.files]
    return View(draft, files=files)


@bp.get("/process-definitions/<key>/versions/<int:number>/files")
@doc(summary="The files of one version (BPMN, DMN, forms, scenarios)", tags=TAGS,
     responses={200: VersionFilesOut}, errors=(404,))
def version_files(key: str, number: int):  # noqa: ANN201
    version = studio_queries.version(key, number)
    files = [{"name": n, "kind": studio_queries.file_kind(n), "content": c.decode("utf-8", "replace")}
             for n, c in studio_queries.version_files(version).items()]
    return dump(VersionFilesOut, {"key": key, "version": number, "files": files})


@bp.get("/process-definitions/<key>/versions/<int:number>/export.zip")
@doc(summary="One version as a SpiffArena process model folder (zip)", tags=TAGS,
     responses={200: "a zip holding <key>/process_model.json and the model's files"}, errors=(404,))
def export_version(key: str, number: int):  # noqa: ANN201
    version = studio_queries.version(key, number)
    return Response(studio_queries.export_zip(version), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{key}-v{number}.zip"'})


@bp.get("/process-definitions/<key>/diff")
@doc(summary="What changed between two versions: elements and form fields", tags=TAGS, query=DiffQuery,
     responses={200: DiffOut}, errors=(404,))
def diff_versions(key: str):  # noqa: ANN201
    args = query(DiffQuery)
    old = studio_queries.version(key, args["from_version"])
    new = studio_queries.version(key, args["to_version"])
    return dump(DiffOut, studio_queries.diff(old, new))


@bp.get("/drafts")
@doc(summary="The drafts in progress", tags=TAGS, responses={200: DraftListOut})
def list_drafts():  # noqa: ANN201
    return dump(DraftListOut, {"items": studio_queries.drafts()})


@bp.post("/drafts")
@doc(summary="Open a draft of a process from its newest version", tags=TAGS, body=DraftIn,
     responses={201: StudioDraftOut}, errors=(403, 404))
def create_draft():  # noqa: ANN201
    actor = require_roles(*EDITORS)
    args = body(DraftIn)
    return dump(StudioDraftOut, _draft_view(studio.open_draft(args["process_key"], actor.username)), 201)


@bp.get("/drafts/<int:draft_id>")
@doc(summary="A draft with its files", tags=TAGS, responses={200: StudioDraftOut}, errors=(404,))
def get_draft(draft_id: int):  # noqa: ANN201
    return dump(StudioDraftOut, _draft_view(studio_queries.draft(draft_id)))


@bp.put("/drafts/<int:draft_id>/files/<name>")
@doc(summary="Save (or add) one file of a draft", tags=TAGS, body=FileIn, responses={200: SavedOut},
     errors=(403, 404, 409),
     description="`revision` is the revision the content was based on (0 for a new file). When someone "
                 "saved the file since, nothing is written and the answer is 409 naming who and when.")
def save_draft_file(draft_id: int, name: str):  # noqa: ANN201
    actor = require_roles(*EDITORS)
    args = body(FileIn)
    return dump(SavedOut, studio.save_file(draft_id, name, args["content"], args["revision"], actor.username))


@bp.delete("/drafts/<int:draft_id>/files/<name>")
@doc(summary="Remove one file from a draft", tags=TAGS, query=FileDeleteQuery, responses={204: None},
     errors=(403, 404, 409))
def delete_draft_file(draft_id: int, name: str):  # noqa: ANN201
    actor = require_roles(*EDITORS)
    studio.delete_file(draft_id, name, query(FileDeleteQuery)["revision"], actor.username)
    return "", 204


@bp.delete("/drafts/<int:draft_id>")
@doc(summary="Throw a draft away", tags=TAGS, responses={204: None}, errors=(403, 404))
def delete_draft(draft_id: int):  # noqa: ANN201
    actor = require_roles(*EDITORS)
    studio.delete_draft(draft_id, actor.username)
    return "", 204


@bp.post("/drafts/<int:draft_id>/validate")
@doc(summary="Every server check of a draft, with the element each problem concerns", tags=TAGS,
     body_required=False, responses={200: DraftCheckOut}, errors=(404,))
def validate_draft(draft_id: int):  # noqa: ANN201
    result = studio.check(studio_queries.draft(draft_id))
    return dump(DraftCheckOut, View(result, valid=not result.errors))


@bp.post("/drafts/<int:draft_id>/scenarios")
@doc(summary="Run a draft's scenarios with the real engine in memory", tags=TAGS, body_required=False,
     responses={200: ScenarioRunOut}, errors=(404,))
def run_scenarios(draft_id: int):  # noqa: ANN201
    results = run_draft_scenarios(studio_queries.draft(draft_id))
    return dump(ScenarioRunOut, {"passed": all(r.passed for r in results), "results": [as_view(r) for r in results]})


@bp.post("/drafts/<int:draft_id>/publish")
@doc(summary="Publish a draft as new versions (after the checks and scenarios pass)", tags=TAGS,
     body=PublishIn, responses={201: DeployOut, 200: DeployOut}, errors=(403, 404, 409))
def publish_draft(draft_id: int):  # noqa: ANN201
    actor = require_roles(*EDITORS)
    result = studio.publish(draft_id, actor.username, body(PublishIn)["note"], run_scenarios=scenario_runner())
    return dump(DeployOut, result, 201 if result.created else 200)


@bp.post("/studio/form-preview")
@doc(summary="A form drawn as the task page draws it, and sample data validated as a submission", tags=TAGS,
     body=PreviewIn, responses={200: PreviewOut})
def form_preview():  # noqa: ANN201
    current_actor()
    args = body(PreviewIn)
    html, errors, labels = rendering.preview(args["schema"], args["uischema"], args["data"])
    return dump(PreviewOut, {"html": html, "errors": errors, "labels": labels})
