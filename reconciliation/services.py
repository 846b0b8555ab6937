"""Reconciliation runs: the ledger against itself and against the card gateway (the checks are in checks.py).
Findings are upserted by fingerprint, so a rerun is idempotent; an open finding a run no longer sees is
auto-closed only when it lies inside what the run checked (a whole-state kind, or a batch of the run's date);
a resolved one stays resolved. A run that leaves open error findings e-mails finance.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from core.errors import InvalidParameter

from .checks import WHOLE_STATE_KINDS, Discrepancy, batches_closed_on, card_checks, ledger_checks, statement_checks
from .models import FindingStatus, ReconciliationFinding, ReconciliationRun, Severity

logger = logging.getLogger("chargepay.reconciliation")

# Who is told about open error findings: whoever may resolve them (backoffice.roles gives it to the finance role).
ALERT_PERMISSION = ("reconciliation", "change_reconciliationfinding")


def _in_scope(finding: ReconciliationFinding, batches: set[str]) -> bool:
    """Whether this run checked what the finding is about, so not seeing it again means it is gone."""
    involved = finding.involved if isinstance(finding.involved, dict) else {}
    return finding.kind in WHOLE_STATE_KINDS or involved.get("batch") in batches


def reconciliation_run(
    *,
    business_date: date,
    extra_checks: Iterable[Callable[[date], list[Discrepancy]]] = (),
    batches: Iterable[str] = (),
) -> ReconciliationRun:
    """Run every check for `business_date` and record the run and its findings (see module doc). `batches` are the
    settlement batches the extra checks matched: open findings about them that the run no longer sees auto-close.
    Locks the live findings (select_for_update) while recording. After commit, a run that leaves open error
    findings e-mails finance (a failed e-mail is logged, never undoes the run). Raises InvalidParameter."""
    if not isinstance(business_date, date):
        raise InvalidParameter(str(business_date), "date")
    discrepancies = ledger_checks()
    for check in extra_checks:
        discrepancies += check(business_date)
    seen = {d.fingerprint: d for d in discrepancies}
    scope = set(batches)
    new = []
    with transaction.atomic():
        run = ReconciliationRun.objects.create(business_date=business_date)
        live = {
            f.fingerprint: f for f in ReconciliationFinding.objects.select_for_update().exclude(status=FindingStatus.AUTO_CLOSED)
        }
        for fingerprint, d in seen.items():
            finding = live.get(fingerprint)
            if finding is None:
                finding = ReconciliationFinding.objects.create(
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
                new.append(finding)
            else:
                finding.last_run, finding.expected_amount, finding.actual_amount, finding.detail = (
                    run,
                    d.expected,
                    d.actual,
                    d.detail,
                )
                finding.save(update_fields=["last_run", "expected_amount", "actual_amount", "detail"])
        gone = [
            f.pk
            for fingerprint, f in live.items()
            if fingerprint not in seen and f.status == FindingStatus.OPEN and _in_scope(f, scope)
        ]
        ReconciliationFinding.objects.filter(pk__in=gone).update(status=FindingStatus.AUTO_CLOSED, closed_at=timezone.now())
        run.summary = {
            "seen": dict(Counter(d.kind for d in discrepancies)),
            "new": len(new),
            "auto_closed": len(gone),
            "open_errors": ReconciliationFinding.objects.filter(status=FindingStatus.OPEN, severity=Severity.ERROR).count(),
            "batches": sorted(scope),
        }
        run.finished_at = timezone.now()
        run.save(update_fields=["summary", "finished_at"])
    logger.info(run_description(run))
    if run.summary["open_errors"]:
        _tell_finance(run, new)
    return run


def run_description(run: ReconciliationRun) -> str:
    """What a run found, in one line (its log line and the e-mail's first line)."""
    summary = run.summary
    seen = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.get("seen", {}).items())) or "nothing"
    return (
        f"reconciliation {run.business_date} (run #{run.pk}): saw {seen}; {summary.get('new', 0)} new, "
        f"{summary.get('auto_closed', 0)} auto-closed, {summary.get('open_errors', 0)} open error finding(s); "
        f"batches checked: {', '.join(summary.get('batches', [])) or 'none'}"
    )


def finance_recipients() -> list[str]:
    """The e-mail addresses of active staff who may resolve findings (through a group or themselves)."""
    permission = Permission.objects.filter(content_type__app_label=ALERT_PERMISSION[0], codename=ALERT_PERMISSION[1])
    users = (
        User.objects.filter(Q(groups__permissions__in=permission) | Q(user_permissions__in=permission))
        .filter(is_active=True, is_staff=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    return sorted(users)


def _tell_finance(run: ReconciliationRun, new: list[ReconciliationFinding]) -> None:
    recipients = finance_recipients()
    if not recipients:
        logger.warning("reconciliation found open errors and nobody in finance has an e-mail address to tell")
        return
    lines = [run_description(run), "", "New findings:" if new else "No new findings; these remain open."]
    lines += [f"- #{f.pk} {f.kind}: {f.detail}" for f in new[:50]]
    lines += ["", "Resolve them in the back-office: Reconciliation › Reconciliation findings (status: open)."]
    try:
        send_mail(
            f"[chargepay] Reconciliation {run.business_date}: {run.summary['open_errors']} open error finding(s)",
            "\n".join(lines),
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    except Exception:  # the run is recorded; the dashboard still shows it
        logger.exception("the reconciliation e-mail to finance could not be sent")


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
    return reconciliation_run(
        business_date=business_date, extra_checks=[card_checks, statement_checks], batches=batches_closed_on(business_date)
    )
