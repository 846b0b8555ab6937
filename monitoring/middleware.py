"""`GET /health/live`, `GET /health/ready` and `GET /metrics`, answered before the rest of the stack (DESIGN §12).

They sit right after the request id and access log middleware, ahead of SecurityMiddleware and CommonMiddleware, so
that a probe or a scrape by container name or by IP address is answered without being in ALLOWED_HOSTS and over
plain HTTP inside the network (no SSL redirect): the health answers hold no secret, and `/metrics` asks for
METRICS_TOKEN when one is set. No session, no CSRF, no authentication: nothing here reads or writes a user's data.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare

from core import metrics

from . import health
from .collectors import StoredStateCollector

ALLOWED_METHODS = ("GET", "HEAD")


def _live(request) -> HttpResponse:
    """The process answers: no dependency is checked (a restart would not fix a database outage)."""
    return JsonResponse({"status": "ok", "checks": {"process": {"status": "ok"}}})


def _ready(request) -> HttpResponse:
    ready, results = health.readiness()
    body = {"status": "ok" if ready else "unavailable", "checks": {name: r.as_json() for name, r in results.items()}}
    return JsonResponse(body, status=200 if ready else 503)


def _metrics(request) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not constant_time_compare(presented, token):
            response = HttpResponse("metrics need Authorization: Bearer <METRICS_TOKEN>\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    body, content_type = metrics.render([StoredStateCollector()])
    return HttpResponse(body, content_type=content_type)


ENDPOINTS = {"/health/live": _live, "/health/ready": _ready, "/metrics": _metrics}


class OperationsEndpointsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        endpoint = ENDPOINTS.get(request.path_info)
        if endpoint is None:
            return self.get_response(request)
        request.route = request.path_info.lstrip("/")  # the access log's and metrics' route label
        if request.method not in ALLOWED_METHODS:
            response = JsonResponse({"status": "method not allowed"}, status=405)
            response["Allow"] = ", ".join(ALLOWED_METHODS)
            return response
        response = endpoint(request)
        response["Cache-Control"] = "no-store"
        return response
