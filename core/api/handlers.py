"""Django-level 404 and 500 handlers: API paths answer in their API's envelope, never in HTML."""

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error

from core import errors
from core.request_context import current_request_id

from .andcharge import error_body
from .hop import internal_error as hop_internal_error
from .hop import route_not_found

ANDCHARGE_PREFIXES = ("/v1/", "/public/")
HOP_PREFIX = "/api/v1/"

logger = logging.getLogger("chargepay.api")


def _is_andcharge(request) -> bool:
    return request.path.startswith(ANDCHARGE_PREFIXES)


# Exempt from CSRF: an unknown API path answers its API's 404 for every method, never Django's CSRF page.
@csrf_exempt
def not_found(request, exception=None):
    if request.path.startswith(HOP_PREFIX):
        return hop_not_found(request, exception)
    if _is_andcharge(request):
        return JsonResponse(error_body(errors.ObjectNotFound("route", request.path[:200])), status=404)
    return page_not_found(request, exception)


@csrf_exempt
def hop_not_found(request, exception=None):
    return JsonResponse(route_not_found().body(), status=404)


def internal_error(request):
    if _is_andcharge(request):
        return JsonResponse(error_body(errors.InternalError(current_request_id())), status=500)
    if request.path.startswith(HOP_PREFIX):
        return JsonResponse(hop_internal_error(current_request_id()).body(), status=500)
    return server_error(request)
