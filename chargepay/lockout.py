"""django-axes' lockout answer: the hosted link page's customers get a page in that page's look, staff the admin's."""

from django.conf import settings
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    template = "link/lockout.html" if request.path.startswith("/link/") else settings.AXES_LOCKOUT_TEMPLATE
    return render(request, template, {}, status=settings.AXES_HTTP_RESPONSE_CODE)
