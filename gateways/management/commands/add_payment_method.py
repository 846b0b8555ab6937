from datetime import date

from accounts.models import Customer, Partner
from core.errors import InvalidParameter, ObjectNotFound
from core.management.base import OperationsCommand
from gateways import services


class Command(OperationsCommand):
    help = "Store a card on record for a customer: the gateway's numeric token and its expiry (never a card number)."

    def add_options(self, parser):
        parser.add_argument("--customer", required=True, type=int)
        parser.add_argument(
            "--partner", required=True, help="The code of the partner the card is stored for (only it may use it)."
        )
        parser.add_argument("--token", required=True, help="The gateway's card token, numeric, at most 22 digits.")
        parser.add_argument("--expires-at", required=True, help="YYYY-MM-DD")

    def run(self, *, customer, partner, token, expires_at, **options):
        found = Customer.objects.filter(pk=customer).first()
        if found is None:
            raise ObjectNotFound("customer", customer)
        owner = Partner.objects.filter(code=partner).first()
        if owner is None:
            raise ObjectNotFound("partner", partner)
        try:
            expiry = date.fromisoformat(expires_at)
        except ValueError:
            raise InvalidParameter(expires_at, "expires_at") from None
        method = services.payment_method_store(customer=found, partner=owner, token=token, expires_at=expiry)
        return {
            "id": method.pk,
            "customer": found.pk,
            "partner": owner.code,
            "token": method.masked_token,
            "expiresAt": method.expires_at.isoformat(),
        }
