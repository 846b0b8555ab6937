"""A JSON parser that accepts only what can be echoed back: finite numbers and well-formed text.

The standard parser turns `1e400` into infinity and keeps lone surrogates (`"\\ud800"`); echoing either
in an error body would fail to render. Both are refused here as a parse error (INVALID_FORMAT).
"""

import json
import math

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _check(value) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("number out of range")
    if isinstance(value, str):
        value.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key)
            _check(item)
    elif isinstance(value, list):
        for item in value:
            _check(item)


MAX_BODY_BYTES = 64 * 1024  # a TransactionRequest is well under 2 KiB


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise ParseError("request body too large")
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
            _check(data)
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        return data
