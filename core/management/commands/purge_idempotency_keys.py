from core.idempotency import idempotency_purge
from core.management.base import OperationsCommand


class Command(OperationsCommand):
    help = "Delete completed Idempotency-Key records older than IDEMPOTENCY_RETENTION_HOURS (default 48)."

    def run(self, **options):
        return {"deleted": idempotency_purge()}
