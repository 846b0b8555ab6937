from accounts import services
from accounts.models import Customer
from core.errors import ObjectNotFound
from core.management.base import OperationsCommand
from core.masking import last_four


class Command(OperationsCommand):
    help = "Give a customer an RFID session token (HOP charges by RFID)."

    def add_options(self, parser):
        parser.add_argument("--customer", required=True, type=int)
        parser.add_argument("--token", required=True)

    def run(self, *, customer, token, **options):
        found = Customer.objects.filter(pk=customer).first()
        if found is None:
            raise ObjectNotFound("customer", customer)
        rfid = services.rfid_token_add(customer=found, token=token)
        return {"id": rfid.pk, "customer": found.pk, "token": last_four(rfid.token)}
