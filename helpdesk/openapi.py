"""OpenAPI post-processing: the error answers every operation can give, documented once.

Any operation may answer 401/403 (authentication, permission), 404 (not found or not
visible, including a page number past the end of a list) and 429 (throttled); operations
that take input may answer 400, and those with a body 413 (larger than
DATA_UPLOAD_MAX_MEMORY_SIZE) and 415 (a content type other than JSON, a form or multipart).
Each is `{"detail": "..."}`; a 400 about fields also
carries `errors` (messages by field). Operations that document their own keep them.
"""
from __future__ import annotations

from typing import Any

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
    "401": "Not authenticated.",
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
    return result
