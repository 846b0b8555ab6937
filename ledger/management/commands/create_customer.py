from core.management.base import OperationsCommand
from ledger import services


class Command(OperationsCommand):
    help = "Create a customer with empty kilometer and cents wallets."

    def add_options(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="")

    def run(self, *, email, name, **options):
        customer = services.customer_create(email=email, name=name)
        return {"id": customer.pk, "email": customer.email}
