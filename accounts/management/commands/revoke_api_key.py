from accounts import services
from accounts.models import PartnerApiKey
from core.errors import ObjectNotFound
from core.management.base import OperationsCommand


class Command(OperationsCommand):
    help = "Revoke a partner API key: no new tokens, and its access tokens stop working at once."

    def add_options(self, parser):
        parser.add_argument("--access-key-id", required=True)

    def run(self, *, access_key_id, **options):
        key = PartnerApiKey.objects.filter(access_key_id=access_key_id).first()
        if key is None:
            raise ObjectNotFound("apiKey", access_key_id)
        key = services.api_key_revoke(key=key)
        return {"accessKeyId": key.access_key_id, "revokedAt": key.revoked_at.isoformat()}
