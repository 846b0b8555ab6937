"""CSV export of a back-office list, streamed: the changelist's own filters, search and ordering, every row.

An admin mixes in CsvExportMixin and names its columns in `csv_columns`: (header, how to get the value), the
value being an attribute path (`partner__code`) or a function of the row. Money columns carry plain numbers
(cents as a decimal dollar amount, kilometers as integers) so a spreadsheet can add them up. The link sits on
the list page ("Export CSV"), carries the list's query string, and each export is audited (accounts.audit).
It lives in accounts, the lowest app with the audit log, so every app's admin can use it.
"""

import csv
from collections.abc import Callable, Iterator
from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone

from .audit import audit_export

CHUNK_ROWS = 2000


def cents_as_dollars(cents: int | None) -> str:
    """14000 → "140.00": a number a spreadsheet reads, exact (no float)."""
    return "" if cents is None else str((Decimal(int(cents)) / 100).quantize(Decimal("0.01")))


def _value(row, how) -> object:
    if callable(how):
        return how(row)
    value = row
    for part in how.split("__"):
        value = getattr(value, part, None) if value is not None else None
    return value


class _Echo:
    """A file whose write returns what it was given: csv.writer then yields lines without buffering them."""

    def write(self, value: str) -> str:
        return value


def _safe(value) -> str:
    """A cell as text; one starting with =, +, - or @ that is not a number gets a leading quote, so a
    spreadsheet never runs a partner's transactionId as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            Decimal(text)
        except ArithmeticError:  # not a number: text a spreadsheet would evaluate
            return "'" + text
    return text


def csv_lines(queryset, columns: tuple[tuple[str, str | Callable], ...]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([header for header, _ in columns])
    for row in queryset.iterator(chunk_size=CHUNK_ROWS):
        yield writer.writerow([_safe(_value(row, how)) for _, how in columns])


class CsvExportMixin(admin.ModelAdmin):
    csv_columns: tuple[tuple[str, str | Callable], ...] = ()
    change_list_template = "admin/csv_change_list.html"

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.csv_export_view),
                name=f"{opts.app_label}_{opts.model_name}_export",
            ),
            *super().get_urls(),
        ]

    def csv_export_view(self, request):
        """Stream the list as the changelist shows it (same query string: filters, search, ordering)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        audit_export(actor=request.user, model=self.model, query=request.GET.urlencode())
        response = StreamingHttpResponse(csv_lines(queryset, self.csv_columns), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="{self.model._meta.model_name}-{stamp}.csv"'
        return response
