"""Django-level 404 and 500 handlers: API paths answer in their API's envelope, never in HTML."""

import logging

from django.http import JsonResponse
from django.views.defaults import page_not_found, server_error

from core import errors
from core.request_context import current_request_id

from .andcharge import error_body
from .hop import HopError

ANDCHARGE_PREFIXES = ("/v1/", "/public/")
HOP_PREFIX = "/api/v1/"

logger = logging.getLogger("chargepay.api")


def _is_andcharge(request) -> bool:
    return request.path.startswith(ANDCHARGE_PREFIXES)


def not_found(request, exception=None):
    if request.path.startswith(HOP_PREFIX):
        return hop_not_found(request, exception)
    if _is_andcharge(request):
        return JsonResponse(error_body(errors.ObjectNotFound("route", request.path[:200])), status=404)
    return page_not_found(request, exception)


def hop_not_found(request, exception=None):
    return JsonResponse(HopError(404, 10001, "Generic default error", {"route": ["not found"]}).body(), status=404)


def internal_error(request):
    if _is_andcharge(request):
        return JsonResponse(error_body(errors.InternalError(current_request_id())), status=500)
    if request.path.startswith(HOP_PREFIX):
        body = HopError(500, 10001, "Generic default error", {"request": [f"internal error {current_request_id()}"]}).body()
        return JsonResponse(body, status=500)
    return server_error(request)
