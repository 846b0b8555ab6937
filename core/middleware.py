import logging
import re
import time
import uuid

from django.utils.functional import SimpleLazyObject

from core import metrics
from core.request_context import request_id_var

access_logger = logging.getLogger("chargepay.access")

# A caller's id is echoed only when it is short and plain, so it can never inject into logs or headers.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class RequestIdMiddleware:
    """Gives every request an id (the caller's `X-Request-Id` when it is safe) and returns it in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-Id"] = request_id
        return response


def _api(path: str) -> str:
    """The API (or part of the site) a path belongs to, for logs and metrics."""
    if path.startswith("/api/v1/"):
        return "hop"
    if path.startswith(("/v1/", "/public/")):
        return "andcharge"
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith(("/health/", "/metrics")):
        return "operations"
    return "other"


def _route(request) -> str:
    """The URL pattern that served the request (a bounded set of values), never the path with its ids."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return match.route
    return getattr(request, "route", None) or "unmatched"


def _partner(request) -> str | None:
    """The calling partner as the API's authentication found it, without a query: a &Charge token names its
    partner; a HOP service account carries its partner when the authentication loaded it."""
    user = request.__dict__.get("user")
    if user is None or isinstance(user, SimpleLazyObject):  # the admin's session user, possibly never loaded
        return None
    code = getattr(user, "partner_code", None)
    if code:
        return code
    partner = getattr(getattr(user, "_state", None), "fields_cache", {}).get("partner")
    return getattr(partner, "code", None)


def _error_code(response) -> str | None:
    """The stable error code of an API answer (`error` in &Charge's envelope, `data.code` in HOP's)."""
    data = getattr(response, "data", None)
    if not isinstance(data, dict):
        return None
    if "error" in data:
        return str(data["error"])
    inner = data.get("data")
    if isinstance(inner, dict) and "code" in inner:
        return str(inner["code"])
    return None


# The payment routes (URL names) of each API, answered 201 when the payment or charge is accepted.
PAYMENT_ROUTES = {"andcharge-transactions": "andcharge", "hop-charges": "hop", "hop-rfid-charges": "hop"}


class AccessLogMiddleware:
    """One access log line per request (method, route, status, duration, partner, request id) and the request
    metrics (core/metrics.py). Placed right after RequestIdMiddleware, so both see the request id and every
    answer, including the ones a later middleware gives."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        api, route, status = _api(request.path), _route(request), response.status_code
        code = None
        if status >= 400 and api in ("andcharge", "hop"):
            code = _error_code(response) or str(status)  # a framework answer (e.g. Django's 404) has no envelope
        metrics.HTTP_REQUESTS.labels(api, route, request.method, str(status)).inc()
        metrics.HTTP_REQUEST_DURATION.labels(api, route).observe(duration)
        if code is not None:
            metrics.API_REFUSALS.labels(api, code).inc()
        match = getattr(request, "resolver_match", None)
        payment_api = PAYMENT_ROUTES.get(match.url_name) if match is not None and request.method == "POST" else None
        if payment_api is not None:
            metrics.PAYMENTS.labels(payment_api, "accepted" if status == 201 else code or str(status)).inc()
        access_logger.info(
            "%s %s %s",
            request.method,
            route,
            status,
            extra={
                "method": request.method,
                "route": route,
                "status_code": status,
                "duration_ms": round(duration * 1000, 1),
                "partner": _partner(request),
                "api": api,
                "request": request,  # its request_id, for RequestIdFilter; the formatter never writes the request
            },
        )
        return response
