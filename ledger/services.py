"""Writes to the ledger. Every function owns its `transaction.atomic` block (joining the caller's if any)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import events
from accounts import services as accounts_services
from accounts.audit import audit_record
from accounts.models import AuditAction, Customer, Partner, PartnerApiKey, PartnerEventType, PartnerStatus, User
from core.errors import (
    AccessDenied,
    AuthorizationInvalid,
    CreditLimitBelowBalance,
    InsufficientBalance,
    InvalidParameter,
    ObjectNotFound,
    PartnerAlreadyRegistered,
    StaffLimitExceeded,
    TransactionAlreadyProcessed,
    TransactionAlreadyReversed,
    TransactionNotReversible,
)

from . import co2, lock_objects, selectors
from .models import (
    Account,
    AccountKind,
    Co2Computation,
    Entry,
    GridIntensity,
    SystemAccount,
    Transaction,
    TransactionKind,
    TransactionStatus,
    Unit,
)

# A webhook event carries the object exactly as the API renders it: one rendering, below both.
from .representations import transaction_representation


@dataclass(frozen=True)
class Posting:
    """One side of a transaction: `amount` (signed, minor units) on `account_id`."""

    account_id: int
    amount: int


def wallets_open(*, customer: Customer) -> list[Account]:
    """Create the customer's wallet in every unit (balance 0). Idempotent."""
    return [
        Account.objects.get_or_create(kind=AccountKind.WALLET, customer=customer, unit=unit, defaults={"balance": 0})[0]
        for unit in Unit.values
    ]


def partner_accounts_open(*, partner: Partner) -> Account:
    """Create the partner's kilometer account (no cached balance: it is shared by every payment) and its CO2 billing
    account. Idempotent. Returns the kilometer account."""
    Account.objects.get_or_create(kind=AccountKind.BILLING, partner=partner, unit=Unit.KM)
    return Account.objects.get_or_create(kind=AccountKind.PARTNER, partner=partner, unit=Unit.KM)[0]


def customer_create(*, email: str = "", name: str = "") -> Customer:
    """Create a customer with an empty wallet in every unit (customers are opened here so that none exists
    without its wallets). Raises InvalidParameter for an e-mail address already taken."""
    email = email.strip()
    with transaction.atomic():
        if email and Customer.objects.filter(email__iexact=email).exists():
            raise InvalidParameter(email, "email")
        customer = Customer.objects.create(email=email, name=name.strip())
        wallets_open(customer=customer)
    return customer


def customer_register(*, email: str, name: str, password: str) -> Customer:
    """A customer registers (the hosted link page): a customer with its wallets and credentials, a User that is
    neither staff nor a service account, so the password opens the hosted page and nothing else.

    An address already known (a customer opened by staff, or any user) is refused, never taken over: its owner
    signs in, or gets a password-reset link from support. Raises InvalidParameter (email, name, password: Django's
    password validators)."""
    email, name = email.strip().lower(), name.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidParameter(email, "email") from None
    if not name or len(name) > 200:
        raise InvalidParameter(name, "name")
    try:
        validate_password(password, user=User(username=email, email=email, first_name=name))
    except ValidationError:
        raise InvalidParameter("", "password") from None
    with transaction.atomic():
        if User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
            raise InvalidParameter(email, "email")
        customer = customer_create(email=email, name=name)
        customer.user = User.objects.create_user(username=email, email=email, password=password)
        customer.save(update_fields=["user"])
    return customer


def partner_create(*, code: str, name: str) -> Partner:
    """Create a partner with its kilometer account (partners are opened here so that none exists without it).
    Raises InvalidParameter for a taken or bad code."""
    code, name = code.strip(), name.strip()
    if not code or len(code) > 100 or "/" in code:
        raise InvalidParameter(code, "code")
    if not name:
        raise InvalidParameter(name, "name")
    with transaction.atomic():
        if Partner.objects.filter(code=code).exists():
            raise InvalidParameter(code, "code")
        partner = Partner.objects.create(code=code, name=name)
        partner_accounts_open(partner=partner)
    return partner


def partner_register(
    *, code: str, name: str, type: str, logo: str = "", web: str = "", descriptions: list[dict] | None = None
) -> tuple[Partner, PartnerApiKey, str]:
    """A partner registers itself (POST /public/v1/partners): INITIAL, with its kilometer account and a first API
    key. It may log in; everything else waits for staff to activate it. The caller validates the fields.
    Returns (partner, key, secret): the secret is shown once. Raises PartnerAlreadyRegistered (the code is taken,
    also when a concurrent registration took it first: the UNIQUE constraint decides)."""
    try:
        with transaction.atomic():
            if Partner.objects.filter(code=code).exists():
                raise PartnerAlreadyRegistered(code)
            partner = Partner.objects.create(
                code=code,
                name=name,
                status=PartnerStatus.INITIAL,
                type=type,
                logo=logo,
                web=web,
                descriptions=descriptions or [],
            )
            partner_accounts_open(partner=partner)
            key, secret = accounts_services.api_key_create(partner=partner, label="registration")
    except IntegrityError:
        raise PartnerAlreadyRegistered(code) from None
    return partner, key, secret


def transaction_post(
    *,
    kind: TransactionKind,
    postings: Sequence[Posting],
    customer_id: int | None = None,
    partner: Partner | None = None,
    reverses: Transaction | None = None,
    created_by: User | None = None,
    reason: str = "",
    use_credit: bool = False,
) -> Transaction:
    """Record one balanced transaction and move the cached balance of every wallet it touches.

    Locks: the wallet rows among the postings, each by the UPDATE that moves it, in primary-key order.
    Shared (partner, system) accounts are neither locked nor updated. A partner's kilometer payment is not
    posted here but by charging_session_pay. `use_credit`: a debit may take a cents wallet down to minus its
    credit limit (spending at venues); every other debit stops at zero.

    Raises InsufficientBalance (a wallet would go below its floor), ValueError (postings do not balance per unit:
    a programming error).
    """
    per_account: dict[int, int] = defaultdict(int)
    for posting in postings:
        per_account[posting.account_id] += posting.amount
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=per_account).only("id", "kind", "unit")}
    if len(postings) < 2 or len(accounts) != len(per_account):
        raise ValueError("a transaction needs at least two postings on existing accounts")
    per_unit: dict[str, int] = defaultdict(int)
    for account_id, amount in per_account.items():
        per_unit[accounts[account_id].unit] += amount
    if any(per_unit.values()):
        raise ValueError(f"postings do not balance: {dict(per_unit)}")

    with transaction.atomic():
        txn = Transaction.objects.create(
            kind=kind,
            customer_id=customer_id,
            partner=partner,
            reverses=reverses,
            created_by=created_by,
            reason=reason,
        )
        for account_id in sorted(per_account):
            amount = per_account[account_id]
            if accounts[account_id].kind != AccountKind.WALLET or amount == 0:
                continue
            if not lock_objects.wallet_move(account_id=account_id, amount=amount, use_credit=use_credit):
                available = Account.objects.values_list("balance", flat=True).get(pk=account_id)
                raise InsufficientBalance(available, -amount)
        Entry.objects.bulk_create(Entry(transaction=txn, account_id=p.account_id, amount=p.amount) for p in postings)
    return txn


# The payment is one call of a PL/pgSQL function, defined in ledger/sql/charging_session_pay.sql.
_PAY_STATEMENT = "SELECT * FROM ledger_charging_session_pay(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_INSUFFICIENT_BALANCE_SQLSTATE = "CP422"  # raised by ledger_charging_session_pay, the balance in DETAIL
# Given an API key, what charging_session_pay raises besides AuthorizationInvalid is decided by its statement after
# it found the key active (step 1 of the function comes first): a caller holding one knows the key held.
PAYMENT_REFUSALS_AFTER_KEY_CHECK = (TransactionAlreadyProcessed, ObjectNotFound, InsufficientBalance)


def _pay_statement(params: list) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(_PAY_STATEMENT, params)
        return cursor.fetchone()


def charging_session_pay(
    *,
    partner_code: str,
    access_key_id: str | None,
    external_user_id: str,
    external_id: str,
    kilometer: int,
    reference: str = "",
    service_data: dict,
    kind: TransactionKind = TransactionKind.PAY_FOR_CHARGING_SESSION,
) -> Transaction:
    """Pay for a charging session: debit `kilometer` from the KM wallet of the customer the partner's
    `external_user_id` is linked to, credit the partner's kilometer account. With `kind` CO2_OFFSET_CHARGING_SESSION
    or CO2_DONATION the customer pays a CO2 offset or a donation by the very same rules, and the kilometers go to
    the km_co2_offset system account instead (co2_offset_pay, co2_donation_pay); the caller then makes sure that
    account exists.

    The caller: the API passes its access token's API key id and partner code; the key must still be active,
    of the active partner with that code (a revoked key stops its tokens at once). `access_key_id=None` is a
    trusted in-process caller with no API key (tests, seed data, benchmarks, management commands): the partner
    is the active one with code `partner_code`, and nothing else is skipped. The argument has no default so
    that every caller says which it is.

    Checks in the &Charge contract's order: key → already processed → user link → balance. A refused
    payment writes nothing, so the partner may retry the same `external_id` later.

    One statement, one round trip: ledger_charging_session_pay (ledger/sql/charging_session_pay.sql) checks
    the key, finds the link, inserts the transaction row (UNIQUE(partner, external_id) decides duplicates,
    a concurrent one included), debits the wallet and inserts the two entries; the deferred trigger checks
    they balance. Outside a transaction the statement is its own transaction; inside the caller's
    `transaction.atomic` it runs in a savepoint, because a refused debit raises in the database and must not
    break the caller's transaction.

    Locks only the customer's KM wallet row (the conditional UPDATE that debits it), and waits on the unique
    index while a request with the same id is in flight. The partner account is neither locked nor updated.

    Returns the transaction (`partner` loaded, `wallet_amount` set like the selectors' listings), built
    from the statement's answer without reading it back.
    Raises AuthorizationInvalid (key given: unknown, revoked, inactive partner, or another partner's code),
    AccessDenied (key given, partner still INITIAL),
    ObjectNotFound(("partner", partner_code)) (no key: no such active partner), TransactionAlreadyProcessed,
    ObjectNotFound(("user", external_user_id)), InsufficientBalance(available, kilometer).
    """
    created_at = timezone.now()
    evse_id = service_data.get("EVSE_ID", "")
    field = Transaction._meta.get_field("service_data")
    params = [
        access_key_id,
        partner_code,
        external_user_id,
        external_id,
        kilometer,
        reference,
        evse_id,
        field.get_db_prep_value(service_data, connection),
        created_at,
        kind.value,
    ]
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                row = _pay_statement(params)
        else:
            row = _pay_statement(params)
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) != _INSUFFICIENT_BALANCE_SQLSTATE:
            raise
        raise InsufficientBalance(int(error.__cause__.diag.message_detail), kilometer) from None
    outcome, txn_id, partner_id, partner_name, customer_id = row
    if outcome == "AUTHORIZATION_INVALID":
        raise AuthorizationInvalid()
    if outcome == "ACCESS_DENIED":
        raise AccessDenied()
    if outcome == "PARTNER_NOT_FOUND":
        raise ObjectNotFound("partner", partner_code)
    if outcome == "TRANSACTION_ALREADY_PROCESSED":
        raise TransactionAlreadyProcessed(external_id)
    if outcome == "REFERENCED_OBJECT_NOT_FOUND":
        raise ObjectNotFound("user", external_user_id)
    if outcome != "CONFIRMED":
        raise RuntimeError(f"ledger_charging_session_pay answered {outcome!r}")
    txn = Transaction(
        pk=txn_id,
        kind=kind,
        status=TransactionStatus.CONFIRMED,
        customer_id=customer_id,
        partner=Partner(pk=partner_id, code=partner_code, name=partner_name, is_active=True),
        external_id=external_id,
        reference=reference,
        evse_id=evse_id,
        service_data=service_data,
        created_at=created_at,
    )
    txn._state.adding = False
    txn._state.db = connection.alias
    txn.wallet_amount = -kilometer
    return txn


def kilometers_grant(*, customer: Customer, kilometer: int, reason: str, granted_by: User | None = None) -> Transaction:
    """Credit `kilometer` to the customer's KM wallet from the kilometer issuance account.

    Locks the customer's KM wallet. Raises InvalidParameter for a non-positive amount or an empty reason.
    """
    if isinstance(kilometer, bool) or not isinstance(kilometer, int) or kilometer <= 0:
        raise InvalidParameter(kilometer, "kilometer")
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    wallet = selectors.wallet_get(customer_id=customer.pk, unit=Unit.KM)
    issuance = selectors.system_account_id(code=SystemAccount.KM_ISSUANCE)
    return transaction_post(
        kind=TransactionKind.KM_GRANT,
        postings=[Posting(wallet.pk, kilometer), Posting(issuance, -kilometer)],
        customer_id=customer.pk,
        created_by=granted_by,
        reason=reason.strip(),
    )


def transaction_reverse(*, transaction_id: int, reversed_by: User, reason: str) -> Transaction:
    """Reverse a confirmed transaction: a new REVERSAL transaction with every entry mirrored, linked to
    the original, which then reads CANCELLED. At most one reversal per transaction (also UNIQUE in the
    database).

    Locks the original transaction row (so two staff members cannot reverse it at once), then the
    wallets it touched, in primary-key order.
    Raises ObjectNotFound, TransactionNotReversible (a reversal itself), TransactionAlreadyReversed,
    InsufficientBalance (the wallet has spent what the reversal would take back), InvalidParameter
    (empty reason).
    """
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        return _reversal_post(original=_reversible_lock(transaction_id), reversed_by=reversed_by, reason=reason)


def _reversible_lock(transaction_id: int) -> Transaction:
    """Lock a transaction that is not itself a reversal. Raises ObjectNotFound, TransactionNotReversible."""
    try:
        original = lock_objects.transaction_lock(transaction_id=transaction_id)
    except Transaction.DoesNotExist:
        raise ObjectNotFound("transaction", transaction_id) from None
    if original.kind == TransactionKind.REVERSAL:
        raise TransactionNotReversible(original.pk, "a reversal cannot be reversed")
    return original


def _reversal_post(*, original: Transaction, reversed_by: User, reason: str) -> Transaction:
    """Post the reversal of a locked, confirmed transaction and mark it CANCELLED (the caller's transaction)."""
    if original.status != TransactionStatus.CONFIRMED:
        raise TransactionAlreadyReversed(original.pk)
    postings = [Posting(account_id, -amount) for account_id, amount in original.entries.values_list("account_id", "amount")]
    reversal = transaction_post(
        kind=TransactionKind.REVERSAL,
        postings=postings,
        customer_id=original.customer_id,
        partner=original.partner,
        reverses=original,
        created_by=reversed_by,
        reason=reason.strip(),
    )
    Transaction.objects.filter(Q(pk=original.pk) & Q(status=TransactionStatus.CONFIRMED)).update(
        status=TransactionStatus.CANCELLED
    )
    if original.partner_id is not None and original.external_id is not None:  # made by the partner through the API
        events.event_record(
            partner_id=original.partner_id,
            type=PartnerEventType.TRANSACTION_CANCELLED,
            subject=original,
            build=lambda: transaction_representation(selectors.transaction_as_shown(transaction_id=original.pk)),
        )
    return reversal


# What staff may reverse in the back-office: kilometer movements. Card money goes back through its card
# charge (void or refund at the gateway), so that the gateway and the ledger can never disagree.
STAFF_REVERSIBLE_KINDS = (
    TransactionKind.PAY_FOR_CHARGING_SESSION,
    TransactionKind.CO2_OFFSET_CHARGING_SESSION,
    TransactionKind.CO2_DONATION,
    TransactionKind.KM_GRANT,
    TransactionKind.KM_ADJUSTMENT,
)
# What support may reverse (within its limit): what a customer paid at a partner.
SUPPORT_REVERSIBLE_KINDS = (
    TransactionKind.PAY_FOR_CHARGING_SESSION,
    TransactionKind.CO2_OFFSET_CHARGING_SESSION,
    TransactionKind.CO2_DONATION,
)


@dataclass(frozen=True)
class ReversalPolicy:
    """What one staff member may reverse: the largest wallet movement in kilometers (None: any) and the kinds."""

    amount_limit: int | None
    kinds: tuple[TransactionKind, ...]


def staff_reversal_policy(*, staff: User) -> ReversalPolicy | None:
    """None when `staff` may not reverse at all. With `ledger.reverse_any_transaction` (finance): any amount of any
    staff-reversible kind. With `ledger.reverse_transaction` only (support): what customers paid at partners
    (payments, CO2 offsets, donations) up to SUPPORT_REVERSAL_LIMIT_KM; grants and corrections are finance's
    (reversing a correction would be a grant by another name), and so is an offset the partner paid (it changes
    the partner's bill; transaction_reverse_by_staff)."""
    if staff.has_perm("ledger.reverse_any_transaction"):
        return ReversalPolicy(amount_limit=None, kinds=STAFF_REVERSIBLE_KINDS)
    if staff.has_perm("ledger.reverse_transaction"):
        return ReversalPolicy(amount_limit=settings.SUPPORT_REVERSAL_LIMIT_KM, kinds=SUPPORT_REVERSIBLE_KINDS)
    return None


def transaction_reverse_by_staff(*, transaction_id: int, staff: User, reason: str) -> Transaction:
    """A staff member reverses a kilometer transaction (see transaction_reverse) within their
    staff_reversal_policy, audited with the customer's balances before and after, in one database transaction.

    Locks the original transaction row, then the wallets it touched.
    Raises AccessDenied (no reversal right), InvalidParameter (empty reason), ObjectNotFound,
    TransactionNotReversible (a card or reversal transaction, or a kind the policy leaves to finance),
    StaffLimitExceeded, TransactionAlreadyReversed, InsufficientBalance (the customer has spent what the
    reversal would take back).
    """
    policy = staff_reversal_policy(staff=staff)
    if policy is None:
        raise AccessDenied()
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        original = _reversible_lock(transaction_id)
        if original.kind not in STAFF_REVERSIBLE_KINDS:
            raise TransactionNotReversible(
                original.pk, "card money is given back by voiding or refunding its card charge, not by a reversal"
            )
        if original.kind not in policy.kinds:
            raise TransactionNotReversible(original.pk, f"a {original.get_kind_display().lower()} is reversed by finance")
        if original.customer_id is None and policy.amount_limit is not None:
            raise TransactionNotReversible(original.pk, "an offset the partner paid is reversed by finance")
        moves = selectors.transaction_wallet_moves(transaction_id=original.pk)
        size = max((abs(move["amount"]) for move in moves), default=0)
        if policy.amount_limit is not None and size > policy.amount_limit:
            raise StaffLimitExceeded(amount=size, limit=policy.amount_limit, unit=Unit.KM)
        before = selectors.customer_balances(customer_id=original.customer_id) if original.customer_id else {}
        reversal = _reversal_post(original=original, reversed_by=staff, reason=reason)
        audit_record(
            actor=staff,
            action=AuditAction.TRANSACTION_REVERSE,
            reason=reason,
            target=original,
            customer=original.customer_id,
            partner=original.partner_id,
            balances_before=before,
            balances_after=selectors.customer_balances(customer_id=original.customer_id) if original.customer_id else {},
            detail={"reversal": reversal.pk, "kind": original.kind, "transactionId": original.external_id},
        )
    return reversal


def kilometers_change_by_staff(*, customer: Customer, kilometer: int, goodwill: bool, reason: str, staff: User) -> Transaction:
    """A staff member changes a customer's kilometers, audited with the balances before and after.

    goodwill=True: a grant (positive only) from the kilometer issuance account (KM_GRANT).
    goodwill=False: a correction, positive or negative, against the kilometer adjustment account
    (KM_ADJUSTMENT); a negative one is refused when the wallet does not hold it.
    Locks the customer's KM wallet. Raises InvalidParameter (zero, or a negative grant, or no reason),
    InsufficientBalance.
    """
    if isinstance(kilometer, bool) or not isinstance(kilometer, int) or kilometer == 0 or (goodwill and kilometer < 0):
        raise InvalidParameter(kilometer, "kilometer")
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    wallet = selectors.wallet_get(customer_id=customer.pk, unit=Unit.KM)
    counterpart = selectors.system_account_id(code=SystemAccount.KM_ISSUANCE if goodwill else SystemAccount.KM_ADJUSTMENT)
    with transaction.atomic():
        before = selectors.customer_balances(customer_id=customer.pk)
        txn = transaction_post(
            kind=TransactionKind.KM_GRANT if goodwill else TransactionKind.KM_ADJUSTMENT,
            postings=[Posting(wallet.pk, kilometer), Posting(counterpart, -kilometer)],
            customer_id=customer.pk,
            created_by=staff,
            reason=reason.strip(),
        )
        audit_record(
            actor=staff,
            action=AuditAction.KILOMETERS_GRANT if goodwill else AuditAction.KILOMETERS_ADJUST,
            reason=reason,
            target=txn,
            customer=customer,
            balances_before=before,
            balances_after=selectors.customer_balances(customer_id=customer.pk),
            detail={"kilometer": kilometer},
        )
    return txn


def card_topup_credit(*, customer_id: int, amount_cents: int) -> Transaction:
    """Credit an authorized card charge to the customer's cents wallet, from the card-authorized account.

    Locks the customer's USD wallet. The caller (gateways.services) holds the charge's row lock, so one
    charge is credited at most once (also UNIQUE: CardCharge.ledger_transaction).
    """
    if amount_cents <= 0:
        raise ValueError("a card top-up credits a positive amount")
    wallet = selectors.wallet_get(customer_id=customer_id, unit=Unit.USD_CENTS)
    authorized = selectors.system_account_id(code=SystemAccount.USD_CARD_AUTHORIZED)
    return transaction_post(
        kind=TransactionKind.CARD_TOPUP,
        postings=[Posting(wallet.pk, amount_cents), Posting(authorized, -amount_cents)],
        customer_id=customer_id,
    )


def card_funds_move(*, kind: TransactionKind, customer_id: int, amount_cents: int, source: SystemAccount, target: SystemAccount):
    """Move a card charge's cents between two system accounts (capture: authorized → receivable;
    settlement: receivable → settled). Locks nothing: system accounts keep no cached balance."""
    return transaction_post(
        kind=kind,
        postings=[
            Posting(selectors.system_account_id(code=source), amount_cents),
            Posting(selectors.system_account_id(code=target), -amount_cents),
        ],
        customer_id=customer_id,
    )


def card_refund_debit(
    *, customer_id: int, amount_cents: int, counterpart: SystemAccount, created_by: User, reason: str
) -> Transaction:
    """Take a card charge's cents back from the customer's wallet (staff void/refund), into the system account
    where the charge's money sits now. Locks the customer's USD wallet. Raises InsufficientBalance."""
    wallet = selectors.wallet_get(customer_id=customer_id, unit=Unit.USD_CENTS)
    return transaction_post(
        kind=TransactionKind.CARD_REFUND,
        postings=[Posting(wallet.pk, -amount_cents), Posting(selectors.system_account_id(code=counterpart), amount_cents)],
        customer_id=customer_id,
        created_by=created_by,
        reason=reason,
    )


def card_credit_debit(*, customer_id: int, partner: Partner, amount_cents: int) -> Transaction:
    """Take the cents a refund to the card (HOP credit) sends back out of the customer's wallet, into the
    credit-pending account, before the gateway is asked: the refund never happens without this debit.

    Never below zero, whatever credit limit the wallet may allow purchases: a refund gives back only cents the
    customer holds. Locks the customer's USD wallet (FOR UPDATE, then the UPDATE that moves it).
    Raises InsufficientBalance.
    """
    if amount_cents <= 0:
        raise ValueError("a card credit debits a positive amount")
    with transaction.atomic():
        wallet = lock_objects.wallet_lock(customer_id=customer_id, unit=Unit.USD_CENTS)
        if wallet.balance < amount_cents:
            raise InsufficientBalance(wallet.balance, amount_cents)
        return transaction_post(
            kind=TransactionKind.CARD_CREDIT,
            postings=[
                Posting(wallet.pk, -amount_cents),
                Posting(selectors.system_account_id(code=SystemAccount.USD_CARD_CREDIT_PENDING), amount_cents),
            ],
            customer_id=customer_id,
            partner=partner,
        )


def card_credit_funds_move(
    *, kind: TransactionKind, customer_id: int, partner: Partner, amount_cents: int, source: SystemAccount, target: SystemAccount
) -> Transaction:
    """Move a card credit's cents (a positive balance: money owed out to the card) from one system account to the
    next (posted: credit pending → credit payable; settled: credit payable → settled). Locks nothing."""
    return transaction_post(
        kind=kind,
        postings=[
            Posting(selectors.system_account_id(code=source), -amount_cents),
            Posting(selectors.system_account_id(code=target), amount_cents),
        ],
        customer_id=customer_id,
        partner=partner,
    )


# --- CO2 offsets (DESIGN §3.6) ------------------------------------------------------------------------------------


def _session_time(value: str) -> datetime:
    return datetime.strptime(value.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


def co2_offset_estimate(*, service_data: dict) -> co2.Co2Estimate:
    """The kilometers that offset the session described by a validated CO2_OFFSET_CHARGING_SESSION request
    (ledger.co2 has the formula), with the country's grid intensity as it stands now. One query.
    Raises InvalidParameter(kilometer) when the result is over KM_MAX_PER_TRANSACTION."""
    estimate = co2.offset_estimate(
        consumed_energy_kwh=service_data["CONSUMED_ENERGY_KWH"],
        max_charging_power_kw=int(service_data["MAX_CHARGING_POWER"]),
        hours=co2.session_hours(_session_time(service_data["SESSION_START"]), _session_time(service_data["SESSION_END"])),
        factor=selectors.grid_intensity_for(country=service_data["COUNTRY"]),
        load_factor=settings.CO2_ESTIMATE_LOAD_FACTOR,
        km_per_kg=settings.CO2_KM_PER_KG,
    )
    if estimate.kilometer > settings.KM_MAX_PER_TRANSACTION:
        raise InvalidParameter(estimate.kilometer, "kilometer")
    return estimate


def _co2_computation_create(
    *, transaction_id: int, country: str, estimate: co2.Co2Estimate, kilometer_sent: int | None
) -> Co2Computation:
    factor = estimate.factor
    return Co2Computation.objects.create(
        transaction_id=transaction_id,
        country=country,
        factor_country=factor.country,
        grams_per_kwh=factor.grams_per_kwh,
        factor_version=factor.version,
        factor_source=factor.source,
        factor_year=factor.year,
        energy_kwh=estimate.energy_kwh,
        energy_estimated=estimate.energy_estimated,
        max_charging_power_kw=estimate.max_charging_power_kw,
        session_hours=estimate.session_hours,
        load_factor=estimate.load_factor,
        km_per_kg=estimate.km_per_kg,
        co2_grams=estimate.co2_grams,
        kilometer_computed=estimate.kilometer,
        kilometer_sent=kilometer_sent,
    )


def co2_offset_pay(
    *,
    partner_code: str,
    access_key_id: str | None,
    external_user_id: str,
    external_id: str,
    kilometer: int | None,
    reference: str = "",
    service_data: dict,
) -> Transaction:
    """A customer pays the CO2 offset of a charging session: `kilometer` as sent, else computed from the session
    (co2_offset_estimate; computed and stored either way). The payment is charging_session_pay's (same checks, order,
    errors and locks: the customer's KM wallet only); the kilometers go to the km_co2_offset account, and the
    computation (Co2Computation) is written in the same database transaction.
    Raises what charging_session_pay raises, and InvalidParameter(kilometer) for a computed figure over the maximum.
    """
    estimate = co2_offset_estimate(service_data=service_data)
    selectors.system_account_id(code=SystemAccount.KM_CO2_OFFSET)
    with transaction.atomic():
        txn = charging_session_pay(
            partner_code=partner_code,
            access_key_id=access_key_id,
            external_user_id=external_user_id,
            external_id=external_id,
            kilometer=estimate.kilometer if kilometer is None else kilometer,
            reference=reference,
            service_data=service_data,
            kind=TransactionKind.CO2_OFFSET_CHARGING_SESSION,
        )
        _co2_computation_create(
            transaction_id=txn.pk, country=service_data["COUNTRY"], estimate=estimate, kilometer_sent=kilometer
        )
    return txn


def co2_donation_pay(
    *,
    partner_code: str,
    access_key_id: str | None,
    external_user_id: str,
    external_id: str,
    kilometer: int,
    reference: str = "",
    service_data: dict,
) -> Transaction:
    """A customer donates `kilometer` for CO2 offsets: charging_session_pay's payment (same checks, order, errors,
    locks), the kilometers going to the km_co2_offset account. Raises what charging_session_pay raises."""
    selectors.system_account_id(code=SystemAccount.KM_CO2_OFFSET)
    return charging_session_pay(
        partner_code=partner_code,
        access_key_id=access_key_id,
        external_user_id=external_user_id,
        external_id=external_id,
        kilometer=kilometer,
        reference=reference,
        service_data=service_data,
        kind=TransactionKind.CO2_DONATION,
    )


def co2_offset_partner_pay(
    *, partner: Partner, external_id: str, kilometer: int | None, reference: str = "", service_data: dict
) -> Transaction:
    """The partner pays the CO2 offset of a charging session itself (no user): the kilometers (as sent, else
    computed, as co2_offset_pay) are booked from the partner's CO2 billing account, which may go negative (it is
    what the partner owes; the monthly statements bill it), to the km_co2_offset account; the computation is
    written in the same database transaction.

    Locks nothing: both accounts are shared and keep no cached balance. UNIQUE(partner, external_id) decides a
    duplicate (the partner's one transactionId namespace, whatever the service), a concurrent one included.
    Returns the transaction with `wallet_amount` = -kilometer (as the billing account sees it).
    Raises TransactionAlreadyProcessed, InvalidParameter(kilometer) for a computed figure over the maximum.
    """
    estimate = co2_offset_estimate(service_data=service_data)
    km = estimate.kilometer if kilometer is None else kilometer
    billing = selectors.partner_billing_account_id(partner_id=partner.pk)
    offsets = selectors.system_account_id(code=SystemAccount.KM_CO2_OFFSET)
    try:
        with transaction.atomic():
            txn = Transaction.objects.create(
                kind=TransactionKind.CO2_OFFSET_CHARGING_SESSION,
                partner=partner,
                external_id=external_id,
                reference=reference,
                evse_id=service_data.get("EVSE_ID", ""),
                service_data=service_data,
            )
            Entry.objects.bulk_create(
                [Entry(transaction=txn, account_id=billing, amount=-km), Entry(transaction=txn, account_id=offsets, amount=km)]
            )
            _co2_computation_create(
                transaction_id=txn.pk, country=service_data["COUNTRY"], estimate=estimate, kilometer_sent=kilometer
            )
    except IntegrityError:
        if Transaction.objects.filter(partner=partner, external_id=external_id).exists():
            raise TransactionAlreadyProcessed(external_id) from None
        raise
    txn.wallet_amount = -km
    return txn


def grid_intensity_save(*, row: GridIntensity, changed: bool) -> GridIntensity:
    """Save a grid intensity row that finance added or edited, raising its version when anything changed, so that
    every offset computed from now on names the new version (old offsets keep the figures they stored). Locks the
    row while it counts."""
    with transaction.atomic():
        if row.pk is not None and changed:
            current = GridIntensity.objects.select_for_update().values_list("version", flat=True).get(pk=row.pk)
            row.version = current + 1
        row.save()
    return row


def cents_wallet_move(
    *,
    kind: TransactionKind,
    customer_id: int,
    partner: Partner,
    amount_cents: int,
    counterpart: SystemAccount,
    use_credit: bool = False,
) -> Transaction:
    """Move `amount_cents` (signed, as the customer sees it) between the customer's cents wallet and a system
    account, as one transaction of `partner` (so only that partner's history lists it). A debit with
    `use_credit` may go down to minus the wallet's credit limit (spending at venues).

    Locks the customer's USD wallet (the conditional UPDATE). Raises InsufficientBalance (below the floor).
    """
    if amount_cents == 0:
        raise ValueError("a wallet move moves something")
    wallet = selectors.wallet_get(customer_id=customer_id, unit=Unit.USD_CENTS)
    return transaction_post(
        kind=kind,
        postings=[Posting(wallet.pk, amount_cents), Posting(selectors.system_account_id(code=counterpart), -amount_cents)],
        customer_id=customer_id,
        partner=partner,
        use_credit=use_credit,
    )


def credit_limit_set_by_staff(*, customer: Customer, credit_limit_cents: int, staff: User, reason: str) -> Account:
    """Finance sets how far below zero the customer's cents wallet may go for spending at venues, audited with the
    limit before and after.

    Locks the customer's USD wallet row. Raises AccessDenied (no `ledger.set_credit_limit`), InvalidParameter
    (not a whole number from 0 to CREDIT_LIMIT_MAX_CENTS, or no reason), CreditLimitBelowBalance (the wallet is
    already further below zero than the new limit allows: lower it once the customer has paid back).
    """
    if not staff.has_perm("ledger.set_credit_limit"):
        raise AccessDenied()
    if (
        isinstance(credit_limit_cents, bool)
        or not isinstance(credit_limit_cents, int)
        or not 0 <= credit_limit_cents <= settings.CREDIT_LIMIT_MAX_CENTS
    ):
        raise InvalidParameter(credit_limit_cents, "credit_limit")
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        wallet = lock_objects.wallet_lock(customer_id=customer.pk, unit=Unit.USD_CENTS)
        if wallet.balance < -credit_limit_cents:
            raise CreditLimitBelowBalance(balance=wallet.balance, credit_limit=credit_limit_cents)
        before = wallet.credit_limit
        Account.objects.filter(pk=wallet.pk).update(credit_limit=credit_limit_cents)
        wallet.credit_limit = credit_limit_cents
        balances = selectors.customer_balances(customer_id=customer.pk)
        audit_record(
            actor=staff,
            action=AuditAction.CREDIT_LIMIT_SET,
            reason=reason,
            target=wallet,
            customer=customer,
            balances_before=balances,
            balances_after=balances,
            detail={"credit_limit_before": before, "credit_limit_after": credit_limit_cents},
        )
    return wallet
