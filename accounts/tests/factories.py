"""factory_boy factories of the accounts models, built through the services as production builds them."""

import factory

from accounts import services
from accounts.models import Customer, Partner, PartnerApiKey, PartnerLink, User
from accounts.tests.helpers import HOP_PASSWORD
from ledger import services as ledger_services


class PartnerFactory(factory.django.DjangoModelFactory):
    """A partner with its kilometer account (through the service, as in production)."""

    class Meta:
        model = Partner

    code = factory.Sequence(lambda n: f"PCS-{n:03d}")
    name = factory.Sequence(lambda n: f"Partner {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return ledger_services.partner_create(code=kwargs["code"], name=kwargs["name"])


class CustomerFactory(factory.django.DjangoModelFactory):
    """A customer with empty wallets in every unit."""

    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"driver{n}@example.com")
    name = factory.Faker("name")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return ledger_services.customer_create(email=kwargs["email"], name=kwargs["name"])


class PartnerLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerLink

    partner = factory.SubFactory(PartnerFactory)
    customer = factory.SubFactory(CustomerFactory)
    external_user_id = factory.Sequence(lambda n: f"user{n:04d}")
    confirmed = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.partner_link_create(**kwargs)


class PartnerApiKeyFactory(factory.django.DjangoModelFactory):
    """An API key of a partner. The secret, shown only once in production, is kept on the returned key as `.secret`."""

    class Meta:
        model = PartnerApiKey

    partner = factory.SubFactory(PartnerFactory)
    label = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        key, secret = services.api_key_create(**kwargs)
        key.secret = secret
        return key


class ServiceAccountFactory(factory.django.DjangoModelFactory):
    """A HOP service account of a partner, allowed to charge the cards of the partner's customers."""

    class Meta:
        model = User

    partner = factory.SubFactory(PartnerFactory)
    email = factory.Sequence(lambda n: f"hop{n}@pcs.example")
    password = HOP_PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.service_account_create(**kwargs)
