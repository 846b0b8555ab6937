"""What both OpenAPI documents say about the edge: error responses with an example each, the headers every answer
carries, the answers every route can give (405, 500; HOP's 404), and the security schemes.

Examples are rendered from the very errors the server raises (`error_body`, `HopError.body`), so a documented
example cannot drift from what is sent. The views list their own errors with `andcharge_errors` / `hop_errors`;
the postprocessing hooks (one per document, set on its SpectacularAPIView) add what is common to every operation.
"""

from collections import defaultdict

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from core import errors

from . import hop
from .andcharge import ErrorSerializer, error_body
from .parsers import MAX_BODY_BYTES

EXAMPLE_REQUEST_ID = "3f2c9a7e5b8d4c1fa0e6b2d9c8f7a6e5"


def _example_name(summary: str) -> str:
    """The example's key: the summary's head in CamelCase ("ACCOUNT_BALANCE_NOT_SUFFICIENT: ..." →
    AccountBalanceNotSufficient), the form drf-spectacular gives the examples it renders."""
    head = summary.split(":")[0].replace("_", " ")
    return "".join(word[:1].upper() + word[1:].lower() for word in head.split())


def andcharge_errors(*cases: tuple[errors.ChargepayError, str]) -> dict[int, OpenApiResponse]:
    """`{status: OpenApiResponse(Error, examples)}` of the &Charge errors an operation answers, each with its example."""
    by_status: dict[int, list[tuple[errors.ChargepayError, str]]] = defaultdict(list)
    for error, summary in cases:
        by_status[error.status].append((error, summary))
    return {
        status: OpenApiResponse(
            ErrorSerializer,
            description="; ".join(summary for _, summary in found),
            examples=[
                OpenApiExample(_example_name(summary), value=error_body(error), summary=summary, status_codes=[str(status)])
                for error, summary in found
            ],
        )
        for status, found in by_status.items()
    }


def hop_errors(*cases: tuple[hop.HopError, str]) -> dict[int, OpenApiResponse]:
    """`{status: OpenApiResponse(HopError, examples)}` of the HOP errors an operation answers, each with its example."""
    by_status: dict[int, list[tuple[hop.HopError, str]]] = defaultdict(list)
    for error, summary in cases:
        by_status[error.status].append((error, summary))
    return {
        status: OpenApiResponse(
            hop.HopErrorSerializer,
            description="; ".join(summary for _, summary in found),
            examples=[
                OpenApiExample(_example_name(summary), value=error.body(), summary=summary, status_codes=[str(status)])
                for error, summary in found
            ],
        )
        for status, found in by_status.items()
    }


# --- &Charge: the errors any operation may answer ----------------------------------------------------------------
ANDCHARGE_UNAUTHORIZED = (errors.AuthorizationInvalid(), "AUTHORIZATION_INVALID: missing, malformed, expired or revoked")
ANDCHARGE_FORBIDDEN = (errors.AccessDenied(), "ACCESS_DENIED: the token is not for this partnerId")
ANDCHARGE_RATE_LIMITED = (errors.TooManyRequests(12), "TOO_MANY_REQUESTS: over PARTNER_RATE_LIMIT; args is Retry-After")
ANDCHARGE_TOO_LARGE = (errors.PayloadTooLarge(MAX_BODY_BYTES), f"PAYLOAD_TOO_LARGE: a body over {MAX_BODY_BYTES} bytes")
# --- HOP: the errors every write with a body may answer ------------------------------------------------------------
HOP_INVALID_JSON = (hop.invalid_json(), "10012 Invalid Format: the body is not JSON")
HOP_TOO_LARGE = (hop.payload_too_large(), "10012 body too large: over the size limit, refused unread")
HOP_KEY_IN_USE = (
    hop.HopError(409, 10015, "Idempotency key in use", {"idempotency_key": ["a request with this key is in progress"]}),
    "10015 Idempotency key in use: the first request with this key is still running",
)
HOP_KEY_REUSED = (
    hop.HopError(422, 10016, "Idempotency key reused", {"idempotency_key": ["was used with a different request"]}),
    "10016 Idempotency key reused: same key, different request",
)
_ANDCHARGE_EVERYWHERE = {
    "405": (errors.MethodNotAllowed("DELETE"), "METHOD_NOT_ALLOWED: the route does not answer this method"),
    "500": (errors.InternalError(EXAMPLE_REQUEST_ID), "INTERNAL_ERROR: never expected; args is the X-Request-Id"),
}
_HOP_EVERYWHERE = {
    "404": (hop.route_not_found(), "10001 route not found: the path matches no route (an empty id, say)"),
    "405": (hop.method_not_allowed(), "10001 method not allowed: the route does not answer this method"),
    "500": (hop.internal_error(EXAMPLE_REQUEST_ID), "10001 internal error: never expected; names the X-Request-Id"),
}

_HEADERS = {
    "X-Request-Id": {
        "description": "The request's id: the caller's X-Request-Id when it is 1–100 characters of [A-Za-z0-9._-], "
        "otherwise a new one. Quote it to support.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"},
        "required": True,
    },
}
_RETRY_AFTER = {
    "description": "Seconds until the rate-limit window ends.",
    "schema": {"type": "integer", "minimum": 1},
    "required": True,
}
_IDEMPOTENT_REPLAYED = {
    "description": "Present on an answer replayed for a repeated Idempotency-Key (the first answer, as it was).",
    "schema": {"type": "string", "enum": ["true"]},
    "required": False,
}
_WWW_AUTHENTICATE = {
    "description": "The challenge (RFC 9110 §11.6.1): the scheme this operation expects.",
    "schema": {"type": "string"},
    "required": True,
}


def _response(ref: str, cases: list[tuple[dict, str]]) -> dict:
    return {
        "description": "; ".join(summary for _, summary in cases),
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{ref}"},
                "examples": {_example_name(summary): {"value": body, "summary": summary} for body, summary in cases},
            }
        },
    }


def _add_common(result: dict, *, error_ref: str, everywhere: dict[str, tuple[dict, str]]) -> dict:
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            parameters = {parameter["name"] for parameter in operation.get("parameters", [])}
            for status, (body, summary) in everywhere.items():
                responses.setdefault(status, _response(error_ref, [(body, summary)]))
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.update(_HEADERS)
                if status == "429":
                    headers["Retry-After"] = _RETRY_AFTER
                if status == "401":
                    headers["WWW-Authenticate"] = _WWW_AUTHENTICATE
                if "Idempotency-Key" in parameters:
                    headers["Idempotent-Replayed"] = _IDEMPOTENT_REPLAYED
    return result


def andcharge_postprocess(result, generator, request, public):
    everywhere = {status: (error_body(error), summary) for status, (error, summary) in _ANDCHARGE_EVERYWHERE.items()}
    result = _add_common(result, error_ref="Error", everywhere=everywhere)
    result.setdefault("components", {}).setdefault("securitySchemes", {}).update(
        {
            "partnerApiKey": {
                "type": "http",
                "scheme": "basic",
                "description": "The log-in: HTTP Basic with the API key, accessKeyId:secretAccessKey.",
            },
            "partnerRefreshToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "The refresh token of the last log-in or rotation (single use).",
            },
        }
    )
    return result


def hop_postprocess(result, generator, request, public):
    everywhere = {status: (error.body(), summary) for status, (error, summary) in _HOP_EVERYWHERE.items()}
    return _add_common(result, error_ref="HopError", everywhere=everywhere)
