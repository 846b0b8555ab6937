from accounts import services
from core.management.base import OperationsCommand


class Command(OperationsCommand):
    help = "Create a HOP service account for a partner (may charge cards of customers linked to that partner)."

    def add_options(self, parser):
        parser.add_argument("--partner", required=True, help="Partner code, e.g. PCS-001.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--may-comp", action="store_true", help="May also comp cents wallets (POST …/comps).")

    def run(self, *, partner, email, password, may_comp=False, **options):
        user = services.service_account_create(
            partner=services.partner_get_by_code(code=partner), email=email, password=password, may_comp=may_comp
        )
        return {"id": user.pk, "email": user.email, "partner": user.partner.code, "may_comp": user.has_perm("wallet.comp_wallet")}
