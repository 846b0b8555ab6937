"""Django-level 404 and 500 handlers: API paths answer in their API's envelope, never in HTML."""

import logging

from django.http import JsonResponse
from django.views.defaults import page_not_found, server_error

from chargepay import errors
from chargepay.request_context import current_request_id

from .andcharge import error_body

ANDCHARGE_PREFIXES = ("/v1/", "/public/")

logger = logging.getLogger("chargepay.api")


def _is_andcharge(request) -> bool:
    return request.path.startswith(ANDCHARGE_PREFIXES)


def not_found(request, exception=None):
    if _is_andcharge(request):
        return JsonResponse(error_body(errors.ObjectNotFound("route", request.path[:200])), status=404)
    return page_not_found(request, exception)


def internal_error(request):
    if _is_andcharge(request):
        return JsonResponse(error_body(errors.InternalError(current_request_id())), status=500)
    return server_error(request)
