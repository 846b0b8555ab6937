"""A JSON parser that accepts only what can be echoed back and stored: finite numbers, well-formed text, a body
of bounded size and depth.

The standard parser turns `1e400` into infinity and keeps lone surrogates (`"\\ud800"`); echoing either in an
error body would fail to render. Both are refused here as a parse error (INVALID_FORMAT). A body larger than
MAX_BODY_BYTES is refused before it is read (by its Content-Length) or as soon as the limit is passed, with
PayloadTooLarge (413); one nested deeper than MAX_DEPTH is a parse error, never a RecursionError.
"""

import json
import math

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core import errors

MAX_BODY_BYTES = 64 * 1024  # a TransactionRequest is well under 2 KiB, a HOP charge well under 1 KiB
MAX_DEPTH = 32  # the deepest body either API accepts is 3 levels


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _check(data) -> None:
    """Iteratively (a deep body must not exhaust the stack): finite numbers, encodable text, bounded depth."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("number out of range")
        if isinstance(value, str):
            value.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
            for key, item in items:
                if key is not None:
                    key.encode("utf-8")
                pending.append((item, depth + 1))


def declared_length(request) -> int | None:
    """The request's Content-Length, or None when absent or not a number."""
    raw = request.META.get("CONTENT_LENGTH") or ""
    return int(raw) if raw.isascii() and raw.isdigit() else None


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        request = parser_context.get("request")
        declared = declared_length(request) if request is not None else None
        if declared is not None and declared > MAX_BODY_BYTES:
            raise errors.PayloadTooLarge(MAX_BODY_BYTES)
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise errors.PayloadTooLarge(MAX_BODY_BYTES)
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
            _check(data)
        except (ValueError, RecursionError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
        return data
