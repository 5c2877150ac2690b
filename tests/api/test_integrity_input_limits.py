"""Issue 9 items 9 and 10: request bodies over MAX_UPLOAD_BYTES and integers beyond 64 bits
(in page numbers, or in path ids: bounded to what an id column holds, PostgreSQL's int4).

Before: ``setdefault("MAX_CONTENT_LENGTH", ...)`` left Flask's own ``None`` in place, so a 150 MiB
upload was read and accepted; a 30-digit page number or path id reached SQLite as an
``OverflowError`` (and PostgreSQL as "integer out of range"): 500.
"""

from __future__ import annotations

import io

import pytest
from werkzeug.routing import IntegerConverter

from app.core.converters import MAX_ID
from tests.support.api import API, assert_problem, upload

HUGE = "9" * 30  # far beyond 64 bits


def test_the_configured_upload_limit_is_the_request_body_limit(app):
    assert app.config["MAX_UPLOAD_BYTES"] == 10 * 1024 * 1024  # config/pmo.toml
    assert app.config["MAX_CONTENT_LENGTH"] == app.config["MAX_UPLOAD_BYTES"]


def test_an_upload_over_the_limit_is_413_problem_json(api, app):
    # 10 MiB + 1 KiB of zip data (a process bundle) by the process owner: was read and parsed.
    big = upload([("big.zip", b"P" * (app.config["MAX_UPLOAD_BYTES"] + 1024))])
    body = assert_problem(api.post("/process-definitions", "owen", **big), 413)
    assert "10,485,760 bytes" in body["detail"]


def test_every_request_body_is_limited_even_where_nothing_reads_it(api, client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    blob = b"{" + b" " * 2000 + b"}"
    for method, path in (("POST", "/auth/token"), ("POST", "/process-instances"), ("GET", "/tasks"),
                         ("POST", "/no-such-route")):
        r = client.open(f"{API}{path}", method=method, data=blob, headers={**api.headers("maria"),
                        "Content-Type": "application/json"})
        assert_problem(r, 413)


def test_a_body_without_content_length_is_cut_at_the_limit(api, client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r = client.post(f"{API}/auth/token", input_stream=io.BytesIO(b'{"username": "' + b"a" * 5000 + b'"}'),
                    headers={"Content-Type": "application/json"},
                    environ_overrides={"wsgi.input_terminated": True})  # a chunked body, as a server passes it
    assert_problem(r, 413)


@pytest.mark.parametrize("path", ["/process-instances", "/projects", "/lessons", "/tasks"])
def test_a_page_beyond_64_bits_is_a_client_error(api, path):
    body = assert_problem(api.get(f"{path}?page={HUGE}", "admin"), 422)
    assert "page" in body["errors"]
    assert_problem(api.get(f"{path}?page={2**63}", "admin"), 422)
    assert api.get(f"{path}?page=1000000", "admin").status_code == 200  # far but fine: empty page


@pytest.mark.parametrize("path", [
    "/process-instances/{id}", "/process-instances/{id}/audit", "/projects/{id}",
])
def test_a_path_id_beyond_64_bits_is_404(api, path):
    for value in (HUGE, str(MAX_ID + 1), "9" * 5000):
        assert_problem(api.get(path.format(id=value), "admin"), 404)
    assert_problem(api.get(path.format(id=MAX_ID), "admin"), 404)  # the largest id: looked up, none


@pytest.mark.parametrize("path", [
    "/process-instances/{id}/terminate", "/process-instances/{id}/suspend", "/process-instances/{id}/resume",
    "/process-instances/{id}/retry", "/projects/{id}/change-requests",
])
def test_posts_to_a_path_id_beyond_64_bits_are_404(api, path):
    assert_problem(api.post(path.format(id=HUGE), "admin", json={"reason": "x"}), 404)


def test_every_int_route_of_the_app_is_bounded(app):
    """The root fix: the app's ``int`` converter itself refuses what no 64-bit column holds."""
    bounded = [(rule.rule, c) for rule in app.url_map.iter_rules() for c in rule._converters.values()
               if isinstance(c, IntegerConverter)]
    assert len(bounded) >= 10  # API instances and projects, admin repair and redeliver
    assert all(c.max == MAX_ID for _, c in bounded), [r for r, c in bounded if c.max != MAX_ID]
