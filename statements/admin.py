"""Partner statements in the back-office: closed months, read-only, each with its CSV download."""

from django.contrib import admin
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyInline, ReadOnlyModelAdmin

from . import exports, selectors
from .models import PartnerStatement, StatementLine


class StatementLineInline(ReadOnlyInline):
    model = StatementLine
    fields = ("transaction", "kilometer")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transaction")


@admin.register(PartnerStatement)
class PartnerStatementAdmin(ReadOnlyModelAdmin):
    list_display = ("partner", "month", "offsets", "kilometer_total", "closed_at", "csv_link")
    list_filter = ("partner", "month")
    list_select_related = ("partner",)
    ordering = ("-month", "partner_id")
    fields = ("partner", "month", "offsets", "kilometer_total", "closed_at", "csv_link")
    readonly_fields = fields
    inlines = [StatementLineInline]

    def get_urls(self):
        csv_view = self.admin_site.admin_view(self.csv_view)
        return [path("<int:object_id>/csv/", csv_view, name="statements_partnerstatement_csv"), *super().get_urls()]

    @admin.display(description="CSV")
    def csv_link(self, statement: PartnerStatement):
        return format_html('<a href="{}">Download CSV</a>', reverse("admin:statements_partnerstatement_csv", args=[statement.pk]))

    def csv_view(self, request, object_id: int):
        """The statement's CSV (each item, then the totals), for anyone who may view statements."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        closed = get_object_or_404(PartnerStatement.objects.select_related("partner"), pk=object_id)
        statement = selectors.statement_get(partner=closed.partner, month=closed.month)
        response = HttpResponse(exports.statement_csv(statement), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="statement-{closed.partner.code}-{closed.month:%Y-%m}.csv"'
        return response
