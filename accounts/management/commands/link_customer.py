from accounts import services
from accounts.models import Customer
from core.errors import ObjectNotFound
from core.management.base import OperationsCommand


class Command(OperationsCommand):
    help = "Link a partner's userId to a customer, confirmed (LINKED) at once."

    def add_options(self, parser):
        parser.add_argument("--partner", required=True, help="Partner code, e.g. PCS-001.")
        parser.add_argument("--user-id", required=True, help="The partner's own user id, e.g. pcsUserId001.")
        parser.add_argument("--customer", required=True, type=int, help="Customer id.")

    def run(self, *, partner, user_id, customer, **options):
        found = Customer.objects.filter(pk=customer).first()
        if found is None:
            raise ObjectNotFound("customer", customer)
        link = services.partner_link_create(
            partner=services.partner_get_by_code(code=partner), external_user_id=user_id, customer=found, confirmed=True
        )
        return {"id": link.pk, "partner": partner, "userId": link.external_user_id, "customer": found.pk, "status": link.status}
