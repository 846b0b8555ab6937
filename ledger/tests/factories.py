"""factory_boy factories of the ledger's transactions, posted through the services as production posts them."""

import factory

from ledger import services as ledger_services
from ledger.models import Transaction
from ledger.tests.helpers import SEED_REQUEST


class SessionPaymentFactory(factory.django.DjangoModelFactory):
    """A partner's kilometer payment for a charging session (`partner`, `external_user_id` of a linked customer with
    enough kilometers), with the seed's session data."""

    class Meta:
        model = Transaction

    external_id = factory.Sequence(lambda n: f"T-{n:04d}")
    kilometer = 5
    reference = ""
    service_data = factory.LazyFunction(lambda: dict(SEED_REQUEST["serviceSpecificData"]))

    @classmethod
    def _create(cls, model_class, *args, partner, **kwargs):
        return ledger_services.charging_session_pay(partner_code=partner.code, access_key_id=None, **kwargs)
