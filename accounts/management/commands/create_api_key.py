from accounts import services
from core.management.base import OperationsCommand


class Command(OperationsCommand):
    help = "Create an API key for a partner. The secret is printed this once and never stored."

    def add_options(self, parser):
        parser.add_argument("--partner", required=True, help="Partner code, e.g. PCS-001.")
        parser.add_argument("--label", default="", help="What the key is for.")

    def run(self, *, partner, label, **options):
        key, secret = services.api_key_create(partner=services.partner_get_by_code(code=partner), label=label)
        return {"partner": key.partner.code, "accessKeyId": key.access_key_id, "secretAccessKey": secret}
