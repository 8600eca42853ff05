"""The API's JSON parser: DRF's, with a 400 for the JSON it would crash on or misread."""
from __future__ import annotations

import codecs
import json
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Which of two values for one key "counts" differs between parsers (a proxy, a WAF,
    # a client library and this one may each pick another): refuse instead of guessing.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


class JSONParser(parsers.JSONParser):
    """Also refuses with a 400 (never a 500) JSON nested deeper than Python can parse
    (a few hundred levels), and objects that repeat a key."""

    def parse(self, stream, media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json.loads(
                text, object_pairs_hook=_unique_keys,
                parse_constant=strict_constant if api_settings.STRICT_JSON else None,
            )
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
