from backoffice.services import refused_attempt_purge
from core.management.base import OperationsCommand


class Command(OperationsCommand):
    help = "Delete refused API attempts older than ATTEMPT_RETENTION_DAYS (default 90)."

    def run(self, **options):
        return {"deleted": refused_attempt_purge()}
