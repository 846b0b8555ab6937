from core.management.base import OperationsCommand
from ledger import services


class Command(OperationsCommand):
    help = "Create a partner (and its kilometer account)."

    def add_options(self, parser):
        parser.add_argument("--code", required=True, help="The partnerId used in API paths, e.g. PCS-001.")
        parser.add_argument("--name", required=True, help='Display name, e.g. "MSP Partner".')

    def run(self, *, code, name, **options):
        partner = services.partner_create(code=code, name=name)
        return {"id": partner.pk, "code": partner.code, "name": partner.name}
