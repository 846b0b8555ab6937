"""Reconciliation runs: the ledger against itself and against the card gateway (the checks are in checks.py).
Findings are upserted by fingerprint, so a rerun is idempotent; a live finding a run no longer sees is
auto-closed; a resolved one stays resolved.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction
from core.errors import InvalidParameter

from .checks import Discrepancy, card_checks, ledger_checks, statement_checks
from .models import FindingStatus, ReconciliationFinding, ReconciliationRun, Severity


def reconciliation_run(
    *, business_date: date, extra_checks: Iterable[Callable[[date], list[Discrepancy]]] = ()
) -> ReconciliationRun:
    """Run every check for `business_date` and record the run and its findings (see module doc)."""
    if not isinstance(business_date, date):
        raise InvalidParameter(str(business_date), "date")
    discrepancies = ledger_checks()
    for check in extra_checks:
        discrepancies += check(business_date)
    seen = {d.fingerprint: d for d in discrepancies}
    with transaction.atomic():
        run = ReconciliationRun.objects.create(business_date=business_date)
        live = {
            f.fingerprint: f for f in ReconciliationFinding.objects.select_for_update().exclude(status=FindingStatus.AUTO_CLOSED)
        }
        for fingerprint, d in seen.items():
            finding = live.get(fingerprint)
            if finding is None:
                ReconciliationFinding.objects.create(
                    kind=d.kind,
                    severity=d.severity,
                    fingerprint=fingerprint,
                    involved=d.objects,
                    expected_amount=d.expected,
                    actual_amount=d.actual,
                    detail=d.detail,
                    first_run=run,
                    last_run=run,
                )
            else:
                finding.last_run, finding.expected_amount, finding.actual_amount, finding.detail = (
                    run,
                    d.expected,
                    d.actual,
                    d.detail,
                )
                finding.save(update_fields=["last_run", "expected_amount", "actual_amount", "detail"])
        gone = [f.pk for fingerprint, f in live.items() if fingerprint not in seen and f.status == FindingStatus.OPEN]
        ReconciliationFinding.objects.filter(pk__in=gone).update(status=FindingStatus.AUTO_CLOSED, closed_at=timezone.now())
        run.summary = {
            "seen": dict(Counter(d.kind for d in discrepancies)),
            "auto_closed": len(gone),
            "open_errors": ReconciliationFinding.objects.filter(status=FindingStatus.OPEN, severity=Severity.ERROR).count(),
        }
        run.finished_at = timezone.now()
        run.save(update_fields=["summary", "finished_at"])
    return run


def finding_resolve(*, finding_id: int, resolved_by, note: str) -> ReconciliationFinding:
    """Staff close a finding with a note. Raises InvalidParameter (empty note, or the finding is not open)."""
    if not note.strip():
        raise InvalidParameter(note, "note")
    with transaction.atomic():
        finding = ReconciliationFinding.objects.select_for_update().get(pk=finding_id)
        if finding.status != FindingStatus.OPEN:
            raise InvalidParameter(finding.status, "status")
        finding.status = FindingStatus.RESOLVED
        finding.resolved_by, finding.resolution_note, finding.resolved_at = resolved_by, note.strip(), timezone.now()
        finding.save()
        audit_record(
            actor=resolved_by,
            action=AuditAction.FINDING_RESOLVE,
            reason=note,
            target=finding,
            detail={"kind": finding.kind, "involved": finding.involved},
        )
    return finding


def reconcile(*, business_date: date):
    """The whole reconciliation for `business_date`: the ledger's invariants, the card checks, the partner
    statements."""
    return reconciliation_run(business_date=business_date, extra_checks=[card_checks, statement_checks])
