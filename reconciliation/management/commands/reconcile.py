from datetime import date

from django.core.management.base import CommandError

from core.errors import InvalidParameter
from core.management.base import OperationsCommand
from reconciliation.models import FindingStatus, ReconciliationFinding, Severity
from reconciliation.services import reconcile


class Command(OperationsCommand):
    help = (
        "Reconcile the ledger with itself and with the card gateway's settled batches of a day. Prints a summary; "
        "exits non-zero while open findings of severity error exist."
    )

    def add_options(self, parser):
        parser.add_argument("--date", required=True, help="Business date, YYYY-MM-DD (the day the batches closed).")

    def run(self, *, date: str, **options):
        try:
            business_date = _date(date)
        except ValueError:
            raise InvalidParameter(date, "date") from None
        run = reconcile(business_date=business_date)
        open_findings = ReconciliationFinding.objects.filter(status=FindingStatus.OPEN)
        result = {
            "run": run.pk,
            "date": business_date.isoformat(),
            "seen": run.summary["seen"],
            "autoClosed": run.summary["auto_closed"],
            "openErrors": open_findings.filter(severity=Severity.ERROR).count(),
            "openWarnings": open_findings.filter(severity=Severity.WARNING).count(),
        }
        self._open_errors = result["openErrors"]
        return result

    def handle(self, *args, **options):
        super().handle(*args, **options)
        if self._open_errors:
            raise CommandError(f"{self._open_errors} open reconciliation finding(s) of severity error", returncode=2)


def _date(value: str) -> date:
    return date.fromisoformat(value)
