"""Reads of the cents wallet as a partner may see it (DESIGN §4.1): the customer, purchases, the history."""

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum

from accounts.models import Customer, Partner
from gateways import selectors as gateway_selectors
from gateways.models import PaymentMethod
from ledger.models import Account, AccountKind, Entry, TransactionKind, Unit

from .models import LineItem, Purchase

# The one mapping from what moved the cents wallet (the ledger's kind) to HOP's transaction `type`
# (transactions_history.md: charge, credit, refund, comp, purchase). A reversal gives money back the way a refund
# does (a top-up whose capture failed; a staff reversal).
HOP_TYPES: dict[str, str] = {
    TransactionKind.CARD_TOPUP: "charge",
    TransactionKind.CARD_CREDIT: "credit",
    TransactionKind.CARD_REFUND: "refund",
    TransactionKind.REVERSAL: "refund",
    TransactionKind.COMP: "comp",
    TransactionKind.LINE_ITEM_CREDIT: "comp",
    TransactionKind.PURCHASE: "purchase",
    TransactionKind.LINE_ITEM_PURCHASE: "purchase",
}
HOP_TYPE_NAMES = ("charge", "credit", "refund", "comp", "purchase")


def kinds_of_hop_type(hop_type: str) -> list[str]:
    return [kind for kind, name in HOP_TYPES.items() if name == hop_type]


def customer_by_id_or_rfid(*, partner: Partner, value: str) -> Customer | None:
    """The customer a path value names for `partner`: a customer id linked to it, else an active RFID session token
    of a customer linked to it (HOP's `:id_or_rfid`). An id wins over an RFID token spelled the same; None when
    neither names a customer the partner may see."""
    return gateway_selectors.customer_for_partner(partner=partner, customer_id=value) or gateway_selectors.customer_for_rfid(
        partner=partner, session_token=value
    )


def cents_wallet(*, customer_id: int) -> Account:
    return Account.objects.only("id", "balance", "credit_limit").get(
        kind=AccountKind.WALLET, customer_id=customer_id, unit=Unit.USD_CENTS
    )


def card_type(*, method: PaymentMethod) -> str | None:
    """The card's brand as the gateway last named it (CardType of the newest answered charge on it), or None."""
    metadata = method.charges.exclude(metadata={}).order_by("-pk").values_list("metadata", flat=True).first()
    return (metadata or {}).get("CardType") or None


def purchases_for_customer(*, partner: Partner, customer: Customer) -> QuerySet[Purchase]:
    """The purchases `partner`'s service accounts made for the customer, newest first, each with the wallet's
    balance right after it (`balance_after`)."""
    wallet_id = cents_wallet(customer_id=customer.pk).pk
    own_entry = Entry.objects.filter(transaction_id=OuterRef(OuterRef("ledger_transaction_id")), account_id=wallet_id).values(
        "pk"
    )[:1]
    running = (
        Entry.objects.filter(account_id=wallet_id, pk__lte=Subquery(own_entry))
        .order_by()
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Purchase.objects.filter(partner=partner, customer=customer).annotate(balance_after=Subquery(running)).order_by("-pk")


def balance_after(*, transaction_id: int) -> int:
    """The cents wallet's balance right after a transaction's wallet entry: the sum of the wallet's entries up to
    it (a wallet's entries are written under its row lock, so their ids follow the order it moved in)."""
    entry = Entry.objects.filter(transaction_id=transaction_id, account__kind=AccountKind.WALLET).values("pk", "account_id").get()
    return Entry.objects.filter(account_id=entry["account_id"], pk__lte=entry["pk"]).aggregate(total=Sum("amount"))["total"]


def cents_history(*, customer: Customer, partner: Partner, hop_type: str | None = None) -> QuerySet[Entry]:
    """The customer's cents wallet entries that `partner` made, newest first (in the order the wallet moved), each
    with `balance_after`: the wallet's balance right after it, over every entry of the one wallet (another
    partner's rows are not listed, but the balance is the wallet's). `hop_type` filters by HOP type.

    What a partner made: its purchases, comps, line items and card credits (their ledger transactions name it),
    and its card charges (the top-up, a staff refund of it, the reversal of its credit)."""
    made_by_partner = (
        Q(transaction__partner=partner)
        | Q(transaction__card_charge__partner=partner)
        | Q(transaction__card_refund__partner=partner)
        | Q(transaction__reverses__card_charge__partner=partner)
    )
    entries = Entry.objects.filter(account__customer=customer, account__kind=AccountKind.WALLET, account__unit=Unit.USD_CENTS)
    rows = entries.filter(made_by_partner)
    if hop_type is not None:
        rows = rows.filter(transaction__kind__in=kinds_of_hop_type(hop_type))
    running = (
        Entry.objects.filter(account_id=OuterRef("account_id"), pk__lte=OuterRef("pk"))
        .order_by()
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return (
        rows.annotate(balance_after=Subquery(running))
        .select_related("transaction", "transaction__purchase", "transaction__comp", "transaction__line_item")
        .order_by("-pk")
    )


def line_item_for_partner(*, partner: Partner, line_item_id: str) -> LineItem | None:
    return LineItem.objects.filter(partner=partner, line_item_id=line_item_id).first()
