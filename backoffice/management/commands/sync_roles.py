from backoffice.roles import roles_sync
from core.management.base import OperationsCommand


class Command(OperationsCommand):
    help = "Create the support and finance staff groups with exactly their permissions (also runs after migrate)."

    def run(self, **options):
        return {"groups": roles_sync()}
