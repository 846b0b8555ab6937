"""Reconciliation in the back-office: runs with their findings (read-only), and findings that finance
resolves with a note."""

from django import forms
from django.contrib import admin, messages

from accounts.exports import CsvExportMixin
from core import money
from core.admin import ReadOnlyInline
from core.errors import ChargepayError

from .models import FindingStatus, ReconciliationFinding, ReconciliationRun
from .services import finding_resolve

# The kinds whose expected/actual amounts are cents (a duplicate's are counts, a ledger finding names its unit).
CENT_KINDS = frozenset(
    {"stale_authorization", "receivable_mismatch", "missing_at_gateway", "missing_in_ledger", "amount_mismatch"}
)


def finding_amount(finding: ReconciliationFinding, value: int | None) -> str:
    """A finding's amount in its unit: dollars, kilometers, or the bare number (a count)."""
    if value is None:
        return "–"
    involved = finding.involved if isinstance(finding.involved, dict) else {}
    unit = "USD" if finding.kind in CENT_KINDS else str(involved.get("unit", ""))
    return money.amount(value, unit)


class FindingInline(ReadOnlyInline):
    model = ReconciliationFinding
    fk_name = "last_run"
    fields = ("kind", "severity", "status", "involved", "expected_amount", "actual_amount", "detail")
    show_change_link = True


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "business_date", "started_at", "finished_at", "summary")
    list_filter = ("business_date",)
    readonly_fields = ("business_date", "started_at", "finished_at", "summary")
    inlines = [FindingInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ResolveFindingForm(forms.ModelForm):
    resolution_note = forms.CharField(widget=forms.Textarea, required=True, help_text="Why this finding is resolved (kept).")

    class Meta:
        model = ReconciliationFinding
        fields = ("resolution_note",)


@admin.register(ReconciliationFinding)
class ReconciliationFindingAdmin(CsvExportMixin, admin.ModelAdmin):
    csv_columns = (
        ("id", "pk"),
        ("kind", "kind"),
        ("severity", "severity"),
        ("status", "status"),
        ("business_date", "last_run__business_date"),
        ("expected", "expected_amount"),  # cents for card kinds, the ledger unit or a count otherwise
        ("actual", "actual_amount"),
        ("involved", "involved"),
        ("detail", "detail"),
        ("first_seen", "first_run__started_at"),
        ("resolved_by", "resolved_by__username"),
        ("resolution_note", "resolution_note"),
    )
    audited_by_service = True  # saves go through an audited service: no mirrored admin edit
    list_display = ("id", "kind", "severity", "status", "expected", "actual", "first_run", "last_run")
    list_filter = ("status", "severity", "kind", "last_run__business_date")
    list_select_related = ("first_run", "last_run")
    search_fields = ("fingerprint", "detail")
    form = ResolveFindingForm
    readonly_fields = (
        "kind",
        "severity",
        "status",
        "fingerprint",
        "involved",
        "expected",
        "actual",
        "detail",
        "first_run",
        "last_run",
        "resolved_by",
        "resolved_at",
        "closed_at",
    )

    @admin.display(description="expected", ordering="expected_amount")
    def expected(self, finding: ReconciliationFinding) -> str:
        return finding_amount(finding, finding.expected_amount)

    @admin.display(description="actual", ordering="actual_amount")
    def actual(self, finding: ReconciliationFinding) -> str:
        return finding_amount(finding, finding.actual_amount)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != FindingStatus.OPEN:
            return (*self.readonly_fields, "resolution_note")
        return self.readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Only an open finding is resolved: a resolved or auto-closed one is read-only (its form has no note field).
        if obj is not None and obj.status != FindingStatus.OPEN:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Saving an open finding with a note resolves it through the service (who, when, why are kept)."""
        try:
            finding_resolve(finding_id=obj.pk, resolved_by=request.user, note=form.cleaned_data["resolution_note"])
        except ChargepayError as error:
            messages.error(request, f"Not resolved: {error}")
