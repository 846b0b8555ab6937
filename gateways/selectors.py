"""Reads of cards and charges."""

from accounts.models import Customer, LinkStatus, Partner, RfidToken
from ledger import selectors as ledger_selectors
from ledger.models import Unit

from .models import CardCharge, PaymentMethod


def payment_method_on_record(*, customer: Customer, partner: Partner) -> PaymentMethod | None:
    """The customer's card on record for `partner`: the one it most recently stored or used. Cards other partners
    stored are not there for it (DESIGN §4.1)."""
    return customer.payment_methods.filter(partner=partner).order_by("-last_used_at", "-pk").first()


def customer_for_partner(*, partner: Partner, customer_id: str) -> Customer | None:
    """The customer with this id if it is LINKED to `partner`; None otherwise (unknown and forbidden alike)."""
    if not customer_id.isascii() or not customer_id.isdigit() or len(customer_id) > 18:
        return None
    return Customer.objects.filter(pk=int(customer_id), links__partner=partner, links__status=LinkStatus.LINKED).first()


def customer_for_rfid(*, partner: Partner, session_token: str) -> Customer | None:
    """The customer an active RFID token names, if LINKED to `partner`; None otherwise."""
    rfid = RfidToken.objects.filter(token=session_token, revoked_at__isnull=True).first()
    if rfid is None:
        return None
    return Customer.objects.filter(pk=rfid.customer_id, links__partner=partner, links__status=LinkStatus.LINKED).first()


def charge_for_customer(*, customer: Customer, partner: Partner, charge_id: str) -> CardCharge | None:
    """The customer's charge with this id if `partner`'s service accounts made it; None otherwise (unknown and
    another partner's alike). Its card is loaded, to tell whose token its metadata shows."""
    if not charge_id.isascii() or not charge_id.isdigit() or len(charge_id) > 18:
        return None
    return (
        CardCharge.objects.select_related("payment_method").filter(pk=int(charge_id), customer=customer, partner=partner).first()
    )


def cents_balance(*, customer_id: int) -> int:
    return ledger_selectors.wallet_get(customer_id=customer_id, unit=Unit.USD_CENTS).balance
