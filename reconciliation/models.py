"""Reconciliation runs and the findings they record."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Severity(models.TextChoices):
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved by staff"
    AUTO_CLOSED = "auto_closed", "Closed: a later run no longer saw it"


class ReconciliationRun(models.Model):
    """One reconciliation of the ledger with itself and with the card gateway, for a business date."""

    business_date = models.DateField(db_index=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Findings seen by kind, and what was checked.")

    def __str__(self) -> str:
        return f"reconciliation {self.business_date} #{self.pk}"


class ReconciliationFinding(models.Model):
    """A discrepancy. Identified by its fingerprint (kind + the objects involved), so a rerun updates the
    finding it saw before instead of adding another; one a later run no longer sees is auto-closed."""

    kind = models.CharField(max_length=50, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    fingerprint = models.CharField(max_length=200)
    involved = models.JSONField(default=dict, help_text="The objects involved, e.g. {'charge': 12, 'gateway_trans_id': '…'}.")
    expected_amount = models.BigIntegerField(null=True, blank=True)
    actual_amount = models.BigIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    first_run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="new_findings")
    last_run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="seen_findings")
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolution_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"], condition=~Q(status="auto_closed"), name="one_live_finding_per_fingerprint"
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | (Q(resolved_by__isnull=False) & ~Q(resolution_note="")),
                name="resolved_finding_has_user_and_note",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.fingerprint} ({self.status})"
