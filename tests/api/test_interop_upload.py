"""Uploads that hold no process say that nothing was (or would be) deployed."""

from __future__ import annotations

from tests.support.api import upload, zip_of


def test_zip_without_a_process_is_422(api):
    files = [("library.zip", zip_of([("process_model.json", b'{"display_name": "Empty model"}')]))]
    for path in ("/process-definitions", "/process-definitions?validate_only=true"):
        r = api.post(path, "owen", **upload(files))
        assert r.status_code == 422, r.get_json()
        [problem] = r.get_json()["errors"]
        assert problem["file"] == "process_model.json" and "holds no process" in problem["message"]
