"""Reconciliation: the ledger against itself (set-based SQL, no per-row Python loops) and, through checks
passed in by the gateways app, against the card gateway. Findings are upserted by fingerprint, so a rerun
is idempotent; a live finding a run no longer sees is auto-closed; a resolved one stays resolved.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction
from core.errors import InvalidParameter

from .models import FindingStatus, ReconciliationFinding, ReconciliationRun, Severity


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    severity: str
    key: str  # what makes this discrepancy itself (with the kind, the fingerprint)
    objects: dict = field(default_factory=dict)
    expected: int | None = None
    actual: int | None = None
    detail: str = ""

    @property
    def fingerprint(self) -> str:
        return f"{self.kind}:{self.key}"[:200]


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def ledger_checks() -> list[Discrepancy]:
    """Every transaction balanced per unit with ≥ 2 entries; cached wallet balance = sum of entries; no
    negative wallet; no transaction reversed twice. Each is one aggregate query."""
    found = [
        Discrepancy(
            "unbalanced_transaction",
            Severity.ERROR,
            f"{txn}:{unit}",
            {"transaction": txn, "unit": unit},
            0,
            total,
            f"entries of transaction {txn} sum to {total} {unit}",
        )
        for txn, unit, total in _rows(
            "SELECT e.transaction_id, a.unit, SUM(e.amount) FROM ledger_entry e JOIN ledger_account a ON a.id = e.account_id"
            " GROUP BY e.transaction_id, a.unit HAVING SUM(e.amount) <> 0"
        )
    ]
    found += [
        Discrepancy(
            "too_few_entries", Severity.ERROR, str(txn), {"transaction": txn}, 2, count, f"transaction {txn} has {count} entries"
        )
        for txn, count in _rows(
            "SELECT t.id, COUNT(e.id) FROM ledger_transaction t LEFT JOIN ledger_entry e ON e.transaction_id = t.id"
            " GROUP BY t.id HAVING COUNT(e.id) < 2"
        )
    ]
    found += [
        Discrepancy(
            "wallet_balance_mismatch",
            Severity.ERROR,
            str(account),
            {"account": account, "customer": customer},
            total,
            balance,
            f"wallet {account} caches {balance}, its entries sum to {total}",
        )
        for account, customer, balance, total in _rows(
            "SELECT a.id, a.customer_id, a.balance, COALESCE(s.total, 0) FROM ledger_account a"
            " LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM ledger_entry GROUP BY account_id) s ON s.account_id = a.id"
            " WHERE a.kind = 'WALLET' AND a.balance <> COALESCE(s.total, 0)"
        )
    ]
    found += [
        Discrepancy(
            "negative_wallet",
            Severity.ERROR,
            str(account),
            {"account": account, "customer": customer},
            0,
            balance,
            f"wallet {account} is at {balance}",
        )
        for account, customer, balance in _rows(
            "SELECT id, customer_id, balance FROM ledger_account WHERE kind = 'WALLET' AND balance < 0"
        )
    ]
    found += [
        Discrepancy(
            "reversed_twice",
            Severity.ERROR,
            str(original),
            {"transaction": original},
            1,
            count,
            f"transaction {original} has {count} reversals",
        )
        for original, count in _rows(
            "SELECT reverses_id, COUNT(*) FROM ledger_transaction WHERE reverses_id IS NOT NULL"
            " GROUP BY reverses_id HAVING COUNT(*) > 1"
        )
    ]
    return found


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
