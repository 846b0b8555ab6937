"""factory_boy factories of the gateways models, built through the services as production builds them."""

from datetime import date

import factory

from accounts.models import Customer, Partner
from accounts.tests.factories import CustomerFactory, PartnerFactory, PartnerLinkFactory
from gateways import services as gateway_services
from gateways.models import CardCharge, PaymentMethod

SEED_TOKEN = "1000000074340019"  # the seed's card token (metadata Token of seeds/004), the `hop_customer` fixture's card
EXPIRES_AT = date(2031, 1, 31)


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    """A card on record, stored by `partner`."""

    class Meta:
        model = PaymentMethod

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SubFactory(PartnerFactory)
    token = SEED_TOKEN
    expires_at = EXPIRES_AT

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return gateway_services.payment_method_store(**kwargs)


class CardChargeFactory(factory.django.DjangoModelFactory):
    """A charge of the customer's card on record, requested by a service account: it calls the gateway, so the
    settings must point at a sandbox. A declined or failed charge raises, as the service does."""

    class Meta:
        model = CardCharge

    amount_cents = 500

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return gateway_services.card_charge_create(**kwargs)


def card_holder(
    *,
    partner: Partner,
    external_user_id: str,
    token: str,
    expires_at: date = EXPIRES_AT,
    confirmed: bool = True,
    **customer_fields,
) -> Customer:
    """A customer linked to `partner` (LINKED, or INITIAL when not `confirmed`) with a card `partner` stored."""
    customer = CustomerFactory(**customer_fields)
    PartnerLinkFactory(partner=partner, customer=customer, external_user_id=external_user_id, confirmed=confirmed)
    PaymentMethodFactory(customer=customer, partner=partner, token=token, expires_at=expires_at)
    return customer
