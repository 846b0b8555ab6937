from accounts.models import Customer
from core.errors import ObjectNotFound
from core.management.base import OperationsCommand
from ledger import selectors, services
from ledger.models import Unit


class Command(OperationsCommand):
    help = "Grant kilometers to a customer through the ledger (a balanced KM_GRANT transaction)."

    def add_options(self, parser):
        parser.add_argument("--customer", required=True, type=int, help="Customer id.")
        parser.add_argument("--km", required=True, type=int, help="Whole kilometers, > 0.")
        parser.add_argument("--reason", required=True, help="Why (kept on the transaction).")

    def run(self, *, customer, km, reason, **options):
        found = Customer.objects.filter(pk=customer).first()
        if found is None:
            raise ObjectNotFound("customer", customer)
        txn = services.kilometers_grant(customer=found, kilometer=km, reason=reason)
        balance = selectors.wallet_get(customer_id=found.pk, unit=Unit.KM).balance
        return {"transaction": txn.pk, "customer": found.pk, "km": km, "kmBalance": balance}
