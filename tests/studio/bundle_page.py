"""A page that loads only the built studio bundle (app/web/static/build/), under the app's own
Content-Security-Policy, for the browser tests of window.PmoStudio; and the lxml comparison of a
diagram before and after the editor saved it.

The bundle is built by `npm run build` (make start, scripts/test.sh); a missing bundle fails the
tests that need it, with that command in the message.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, Response, send_from_directory
from lxml import etree
from werkzeug.serving import make_server

from app.core.security import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "app" / "web" / "static" / "build"
WORKFLOWS = ROOT / "workflows"
FORMS = ROOT / "forms"

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMNDI_PREFIX = "https://www.omg.org/spec/DMN/20191111/DMNDI/"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Studio bundle</title>
<meta name="csrf-token" content="test-csrf-token"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/build/studio.css"></head>
<body>{body}<script src="/build/studio.js"></script></body></html>"""

PLAIN_BODY = """<main><div class="studio-workspace"><div id="canvas" class="studio-canvas"></div>
<div id="panel" class="studio-panel"></div></div><div id="dmn" class="studio-dmn"></div></main>"""


def require_bundle() -> None:
    assert (BUILD / "studio.js").is_file() and (BUILD / "studio.css").is_file(), (
        f"the studio bundle is missing from {BUILD}: run `npm run build`")


def bundle_app(body: str = PLAIN_BODY) -> Flask:
    """A bare Flask app: / is a page with `body` that loads the bundle; /build/ serves the bundle."""
    require_bundle()
    app = Flask("studio-bundle-page")

    @app.get("/")
    def page() -> Response:
        return Response(PAGE.format(body=body), mimetype="text/html")

    @app.get("/build/<path:name>")
    def built(name: str) -> Response:
        return send_from_directory(BUILD, name)

    @app.after_request
    def csp(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    return app


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve a bare app (no database) from a thread on a free loopback port; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="studio-bundle", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def watch_console(page) -> list[str]:  # noqa: ANN001
    """Collect the page's errors and CSP refusals (so a test can assert there were none)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    return problems


# -- what a round trip must keep ----------------------------------------------------------------

def _owner_id(el: etree._Element) -> str:
    node = el.getparent()
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node.get("id") if node is not None else "-"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _text(el: etree._Element) -> str:
    return el.text or ""


def _semantic(root: etree._Element) -> list[etree._Element]:
    """Every element outside the diagram interchange (layout is allowed to be rewritten)."""
    return [el for el in root.iter() if isinstance(el.tag, str)
            and not etree.QName(el).namespace.startswith((BPMNDI, DMNDI_PREFIX, "http://www.omg.org/spec/DD/",
                                                         "http://www.omg.org/spec/DMN/20180521/DC/",
                                                         "http://www.omg.org/spec/DMN/20180521/DI/"))]


def bpmn_facts(xml: bytes | str) -> dict[str, Counter]:
    """What an untouched save must give back, each as a multiset of (owner, what, value) facts."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    facts: dict[str, Counter] = {key: Counter() for key in (
        "spiffworkflow", "documentation", "loop references", "conditions", "timers", "scripts", "ids", "names")}
    for el in root.iter(f"{{{SPIFF}}}*"):
        facts["spiffworkflow"][(_owner_id(el), _local(el), tuple(sorted(el.attrib.items())), _text(el).strip()
                                if len(el) else _text(el))] += 1
    for el in root.iter(f"{{{BPMN}}}documentation"):
        facts["documentation"][(_owner_id(el), _text(el))] += 1
    for tag in ("loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem"):
        for el in root.iter(f"{{{BPMN}}}{tag}"):
            facts["loop references"][(_owner_id(el), tag, _text(el).strip(), el.get("id"), el.get("name"))] += 1
    for el in root.iter(f"{{{BPMN}}}conditionExpression"):
        facts["conditions"][(_owner_id(el), _text(el))] += 1
    for definition in root.iter(f"{{{BPMN}}}timerEventDefinition"):
        for el in definition:
            facts["timers"][(_owner_id(definition), _local(el), _text(el))] += 1
    for el in root.iter(f"{{{BPMN}}}script"):
        facts["scripts"][(_owner_id(el), _text(el))] += 1
    for el in _semantic(root):
        if el.get("id"):
            facts["ids"][(el.get("id"), _local(el))] += 1
            facts["names"][(el.get("id"), el.get("name") or "")] += 1
    return facts


def dmn_facts(xml: bytes | str) -> dict[str, Counter]:
    """The decision logic of a DMN file: ids, hit policies, expressions, entries and labels."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    facts: dict[str, Counter] = {key: Counter() for key in ("ids", "tables", "texts", "columns", "descriptions")}
    for el in _semantic(root):
        if el.get("id"):
            facts["ids"][(el.get("id"), _local(el))] += 1
        if _local(el) == "decisionTable":
            facts["tables"][(el.get("id"), el.get("hitPolicy") or "UNIQUE", el.get("aggregation") or "")] += 1
        if _local(el) == "text":
            facts["texts"][(_owner_id(el), _text(el))] += 1
        if _local(el) in ("input", "output", "inputExpression"):
            facts["columns"][(el.get("id"), el.get("label") or "", el.get("name") or "", el.get("typeRef") or "")] += 1
        if _local(el) == "description":
            facts["descriptions"][(_owner_id(el), _text(el))] += 1
    return facts


def differences(before: dict[str, Counter], after: dict[str, Counter]) -> list[str]:
    """Every fact lost or gained, readable in a failure message."""
    found: list[str] = []
    for key in before:
        lost = before[key] - after[key]
        gained = after[key] - before[key]
        found += [f"{key}: lost {fact!r}" for fact in lost]
        found += [f"{key}: gained {fact!r}" for fact in gained]
    return found
