"""OpenAPI metadata for each route, attached by the ``@doc`` decorator and read by ``openapi``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema

ERROR_TITLES = {
    400: "Bad request (for example malformed JSON)",
    401: "Missing, invalid or expired bearer token",
    403: "The caller's roles do not allow this",
    404: "No such resource (or not visible to the caller)",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported media type (send application/json)",
    422: "Invalid input; `errors` lists every problem",
    500: "Unexpected error",
    503: "A dependency is unavailable",
}


def doc(*, summary: str, tags: list[str], responses: dict[int, type[Schema] | Schema | str | dict | None],
        body: type[Schema] | Schema | dict | None = None, body_type: str = "application/json",
        body_required: bool = True, query: type[Schema] | None = None, errors: tuple[int, ...] = (),
        public: bool = False, description: str = "", headers: tuple[dict[str, Any], ...] = ()) -> Callable:
    """Describe a route for the OpenAPI document.

    ``responses`` maps success codes to a schema (or a description string, or None for no body);
    ``errors`` lists the problem codes the route can answer besides the ones every route has
    (401 unless ``public``, 422 when it takes input, 500).
    """

    def decorate(fn: Callable) -> Callable:
        fn._openapi = {  # type: ignore[attr-defined]
            "summary": summary, "tags": tags, "responses": responses, "body": body, "body_type": body_type,
            "body_required": body_required, "query": query, "errors": errors, "public": public,
            "description": description or (fn.__doc__ or "").strip(), "headers": headers,
        }
        return fn

    return decorate


def operation_for(meta: dict[str, Any], path_params: list[dict[str, Any]]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": meta["summary"], "tags": meta["tags"], "parameters": list(path_params)}
    if meta["description"]:
        op["description"] = meta["description"]
    if meta["query"] is not None:
        op["parameters"].append({"in": "query", "schema": meta["query"]})
    op["parameters"].extend({"in": "header", **h} for h in meta.get("headers", ()))
    if meta["body"] is not None:
        op["requestBody"] = {"required": meta["body_required"],
                             "content": {meta["body_type"]: {"schema": meta["body"]}}}
    responses: dict[str, Any] = {}
    for code, schema in meta["responses"].items():
        if schema is None or isinstance(schema, str):
            responses[str(code)] = {"description": schema or "Done"}
        else:
            responses[str(code)] = {"description": "Success",
                                    "content": {"application/json": {"schema": schema}}}
    codes = set(meta["errors"]) | {500}
    if not meta["public"]:
        codes |= {401}
        op["security"] = [{"bearerAuth": []}]
    else:
        op["security"] = []
    if meta["body"] is not None or meta["query"] is not None:
        codes |= {422}
    if meta["body"] is not None and meta["body_type"] == "application/json":
        codes |= {400, 415}
    for code in sorted(codes):
        responses[str(code)] = {"description": ERROR_TITLES.get(code, "Error"),
                                "content": {"application/problem+json": {"schema": "Problem"}}}
    op["responses"] = responses
    return op
