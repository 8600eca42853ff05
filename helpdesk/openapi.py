"""OpenAPI post-processing: the error answers every operation can give, documented once.

Any operation may answer 401/403 (authentication, permission), 404 (not found or not
visible, including a page number past the end of a list) and 429 (throttled); operations
that take input may answer 400, and those with a body 413 (larger than
DATA_UPLOAD_MAX_MEMORY_SIZE) and 415 (a content type other than JSON, a form or multipart).
Each is `{"detail": "..."}`; a 400 about fields also
carries `errors` (messages by field). Operations that document their own keep them.

Every answer carries `X-RateLimit-Limit` and `X-RateLimit-Remaining`
(helpdesk.throttle.RateLimitHeadersMiddleware), a 429 also `Retry-After`.
A 401 always carries `WWW-Authenticate: Token` (missing or invalid token credentials);
a session (the browser's log-in cookie) is refused with 403 when a write lacks its CSRF
token. Object ids in paths are held to the database's range, as in query strings.
"""
from __future__ import annotations

import re
from typing import Any

from .ids import MAX_ID, MIN_ID

ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {
            "type": "array", "items": {"type": "string"}}},
    },
}
DESCRIPTIONS = {
    "400": "Invalid input; nothing was changed.",
    "401": "Not authenticated: no credentials, or an invalid token.",
    "403": "Not allowed.",
    "404": "Not found, or not visible to you.",
    "429": "Too many requests; retry later.",
}
BODY_DESCRIPTIONS = {
    "413": "The request body is too large; nothing was saved.",
    "415": "Unsupported content type: send JSON, a form or multipart; nothing was saved.",
}
METHODS = {"get", "put", "post", "patch", "delete"}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any,
                        public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
            codes = {**DESCRIPTIONS, **(BODY_DESCRIPTIONS if "requestBody" in operation else {})}
            for code, text in codes.items():
                if code == "400" and not takes_input:
                    continue
                responses.setdefault(code, {
                    "description": text,
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}},
                })
            responses["401"].setdefault("headers", {})["WWW-Authenticate"] = CHALLENGE
            for response in responses.values():
                response.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
            responses["429"]["headers"]["Retry-After"] = RETRY_AFTER
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "path" and schema.get("type") == "integer":
                    schema.setdefault("minimum", MIN_ID)
                    schema.setdefault("maximum", MAX_ID)
    return result


CHALLENGE = {
    "description": "`Token`: send `Authorization: Token <key>` (from POST /api/v1/auth/token/).",
    "required": True,
    "schema": {"type": "string"},
}


RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window (a minute) by the tightest throttle "
                       "that applies to you (per user, or per address before sign-in).",
        "required": True, "schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "required": True, "schema": {"type": "integer", "minimum": 0}},
}
RETRY_AFTER = {
    "description": "Seconds to wait before the next request is allowed.",
    "required": True, "schema": {"type": "integer", "minimum": 0},
}


_ITEM = re.compile(r"^\{(\w+)\}/")


def add_links(result: dict[str, Any], generator: Any, request: Any,
              public: bool) -> dict[str, Any]:
    """OpenAPI links from a collection to the operations on its items: a created object
    (201) and the first object of a list page (200) lead to `/<collection>/{id}/...`.

    They tell integrators (and stateful testers such as Schemathesis) how one answer's
    ids feed the next request: file a ticket, then read, change, reply, move it.
    """
    paths = result.get("paths", {})
    for path, operations in paths.items():
        for child, child_operations in paths.items():
            match = _ITEM.match(child[len(path):]) if child.startswith(path) else None
            if match is None or child == path:
                continue
            name = match.group(1)
            field = "slug" if name == "slug" else "id"
            for method, code, pointer in (("post", "201", f"/{field}"),
                                          ("get", "200", f"/results/0/{field}")):
                response = operations.get(method, {}).get("responses", {}).get(code)
                if response is None:
                    continue
                for target in child_operations.values():
                    if not isinstance(target, dict) or "operationId" not in target:
                        continue
                    response.setdefault("links", {})[target["operationId"]] = {
                        "operationId": target["operationId"],
                        "parameters": {name: f"$response.body#{pointer}"},
                    }
    return result
