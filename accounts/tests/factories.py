import factory

from accounts import services
from accounts.models import Customer, Partner, PartnerLink
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
