from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from accounts import services as accounts_services
from accounts.models import Customer, Partner, PartnerApiKey, PartnerLink, User
from chargepay.management.base import OperationsCommand
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import Unit

# Public demo credentials: seed_demo refuses to run unless DEBUG is on.
DEMO_ACCESS_KEY_ID = "AKDEMOPCS001KEY00000"
DEMO_SECRET = "demo-secret-do-not-use-in-production"
DEMO_ADMIN = ("admin", "admin")


class Command(OperationsCommand):
    help = (
        "Load demo data (idempotent): partner PCS-001 'MSP Partner' with an API key, a customer linked as "
        "pcsUserId001 with 100 km, and a staff superuser admin/admin. Refused unless DEBUG is on."
    )

    @transaction.atomic
    def run(self, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo writes public demo credentials; it runs only with DEBUG=True")
        partner = Partner.objects.filter(code="PCS-001").first() or accounts_services.partner_create(
            code="PCS-001", name="MSP Partner"
        )
        if not PartnerApiKey.objects.filter(access_key_id=DEMO_ACCESS_KEY_ID).exists():
            accounts_services.api_key_create(partner=partner, label="demo", access_key_id=DEMO_ACCESS_KEY_ID, secret=DEMO_SECRET)
        customer = Customer.objects.filter(email__iexact="demo.driver@chargepay.example").first()
        if customer is None:
            customer = accounts_services.customer_create(email="demo.driver@chargepay.example", name="Demo Driver")
            ledger_services.kilometers_grant(customer=customer, kilometer=100, reason="seed_demo welcome kilometers")
        if not PartnerLink.objects.filter(partner=partner, external_user_id="pcsUserId001").exists():
            accounts_services.partner_link_create(
                partner=partner, external_user_id="pcsUserId001", customer=customer, confirmed=True
            )
        if not User.objects.filter(username=DEMO_ADMIN[0]).exists():
            User.objects.create_superuser(username=DEMO_ADMIN[0], password=DEMO_ADMIN[1], email="admin@chargepay.example")
        return {
            "partner": {"id": partner.pk, "code": partner.code, "name": partner.name},
            "apiKey": {"accessKeyId": DEMO_ACCESS_KEY_ID, "secretAccessKey": DEMO_SECRET},
            "customer": {
                "id": customer.pk,
                "email": customer.email,
                "userId": "pcsUserId001",
                "kmBalance": ledger_selectors.wallet_get(customer_id=customer.pk, unit=Unit.KM).balance,
            },
            "admin": {"username": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]},
        }
