"""Writes for people and partners: partners, API keys, customers, links, partner tokens."""

import hashlib
import hmac
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from core.errors import (
    AccountLinkedToDifferentUser,
    ActivationCodeNotFound,
    ApiKeyAlreadyRevoked,
    AuthorizationInvalid,
    InvalidParameter,
    ObjectNotFound,
)

from . import events, selectors
from .audit import audit_record
from .models import (
    AuditAction,
    Customer,
    LinkStatus,
    Partner,
    PartnerApiKey,
    PartnerEventType,
    PartnerLink,
    PartnerStatus,
    RfidToken,
    User,
)
from .tokens import ANDCHARGE_API, CREDENTIALS_CLAIM, HOP_API, PartnerIdToken, credentials_stamp

_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, partner: Partner, label: str = "", access_key_id: str | None = None, secret: str | None = None):
    """Create an API key for `partner`. Returns (key, secret): the secret is never retrievable again.

    `access_key_id`/`secret` are only passed by seed_demo, for fixed demo credentials.
    """
    access_key_id = access_key_id or "AK" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(18))
    secret = secret or secrets.token_urlsafe(32)
    key = PartnerApiKey.objects.create(
        partner=partner, access_key_id=access_key_id, secret_digest=secret_digest(secret), label=label
    )
    return key, secret


def api_key_revoke(*, key: PartnerApiKey) -> PartnerApiKey:
    """Revoke a key: no new tokens, and tokens already issued for it stop working at once."""
    PartnerApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key


def api_key_create_by_staff(*, partner: Partner, label: str, staff: User, reason: str):
    """A staff member creates an API key for a partner (audited). Returns (key, secret): show the secret once.
    Raises InvalidParameter (no reason)."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        key, secret = api_key_create(partner=partner, label=label.strip())
        audit_record(
            actor=staff,
            action=AuditAction.API_KEY_CREATE,
            reason=reason,
            target=key,
            partner=partner,
            detail={"accessKeyId": key.access_key_id, "label": key.label},
        )
    return key, secret


def api_key_revoke_by_staff(*, key_id: int, staff: User, reason: str) -> PartnerApiKey:
    """A staff member revokes an API key (audited); its tokens stop working at once.
    Raises InvalidParameter (no reason), ApiKeyAlreadyRevoked, ObjectNotFound."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        key = PartnerApiKey.objects.select_for_update(of=("self",)).filter(pk=key_id).first()
        if key is None:
            raise ObjectNotFound("apiKey", key_id)
        if key.revoked_at is not None:
            raise ApiKeyAlreadyRevoked(access_key_id=key.access_key_id)
        key = api_key_revoke(key=key)
        audit_record(
            actor=staff,
            action=AuditAction.API_KEY_REVOKE,
            reason=reason,
            target=key,
            partner=key.partner_id,
            detail={"accessKeyId": key.access_key_id},
        )
    return key


def api_key_rotate(*, partner: Partner, access_key_id: str) -> tuple[PartnerApiKey, str]:
    """A partner replaces the API key it calls with (PUT /apikey): a new key, the calling key revoked at once (its
    tokens stop, as for a staff revocation), audited. The partner's other keys stay. Locks the calling key's row,
    so of two rotations with one key exactly one succeeds. Returns (new key, secret): the secret is shown once.
    Raises AuthorizationInvalid (the key is no longer active)."""
    with transaction.atomic():
        old = (
            PartnerApiKey.objects.select_for_update(of=("self",))
            .filter(partner=partner, access_key_id=access_key_id, revoked_at__isnull=True)
            .first()
        )
        if old is None:
            raise AuthorizationInvalid()
        key, secret = api_key_create(partner=partner, label=f"rotated from {old.access_key_id}")
        api_key_revoke(key=old)
        audit_record(
            actor=None,
            action=AuditAction.API_KEY_ROTATE,
            reason="rotated by the partner through PUT /apikey",
            target=key,
            partner=partner,
            detail={"accessKeyId": key.access_key_id, "revokedAccessKeyId": old.access_key_id},
        )
    return key, secret


def partner_activate_by_staff(*, partner_id: int, staff: User, reason: str) -> Partner:
    """A staff member activates a registered (INITIAL) partner, audited: its calls are served from now on.
    Locks the partner row. Raises InvalidParameter (no reason, or the partner is not INITIAL), ObjectNotFound."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        partner = Partner.objects.select_for_update(of=("self",)).filter(pk=partner_id).first()
        if partner is None:
            raise ObjectNotFound("partner", partner_id)
        if partner.status != PartnerStatus.INITIAL:
            raise InvalidParameter(partner.status, "status")
        partner.status = PartnerStatus.ACTIVE
        partner.activated_at = timezone.now()
        partner.save(update_fields=["status", "activated_at"])
        audit_record(
            actor=staff,
            action=AuditAction.PARTNER_ACTIVATE,
            reason=reason,
            target=partner,
            partner=partner,
            detail={"partnerId": partner.code},
        )
    return partner


def customer_password_reset_by_staff(*, customer_id: int, staff: User, reason: str, site_url: str) -> User:
    """A staff member sends a customer a password-reset link (audited), by e-mail through Django's e-mail backend
    (EMAIL_URL). A customer without credentials gets them here, with no usable password until the link is used.
    Locks the customer row; the mail leaves after the commit (no network inside the transaction). `site_url` is
    scheme://host of the link. Raises InvalidParameter (no reason; no e-mail address, or one that is a staff or
    service account's), ObjectNotFound."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        customer = Customer.objects.select_for_update(of=("self",)).filter(pk=customer_id).first()
        if customer is None:
            raise ObjectNotFound("customer", customer_id)
        if customer.user_id is None:
            email = customer.email.strip().lower()
            if not email or User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
                raise InvalidParameter(customer.email, "email")
            user = User(username=email, email=email)
            user.set_unusable_password()
            user.save()
            customer.user = user
            customer.save(update_fields=["user"])
        user = customer.user
        audit_record(
            actor=staff,
            action=AuditAction.CUSTOMER_PASSWORD_RESET,
            reason=reason,
            target=customer,
            customer=customer,
            detail={"email": user.email},
        )
    path = reverse(
        "customer-password-reset-confirm",
        kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)},
    )
    context = {"customer": customer, "reset_url": site_url.rstrip("/") + path}
    send_mail(
        subject=render_to_string("customers/password_reset_subject.txt", context).strip(),
        message=render_to_string("customers/password_reset_email.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
    return user


def partner_link_create(*, partner: Partner, external_user_id: str, customer: Customer, confirmed: bool) -> PartnerLink:
    """Link a partner's userId to a customer; `confirmed` makes it LINKED at once (operator action)."""
    if not external_user_id or len(external_user_id) > 100:
        raise InvalidParameter(external_user_id, "userId")
    current = PartnerLink.objects.filter(partner=partner).exclude(status=LinkStatus.REMOVED)
    with transaction.atomic():
        if current.filter(external_user_id=external_user_id).exists():
            raise InvalidParameter(external_user_id, "userId")
        if current.filter(customer=customer).exists():
            raise InvalidParameter(customer.pk, "customer")
        link = PartnerLink.objects.create(
            partner=partner,
            external_user_id=external_user_id,
            customer=customer,
            status=LinkStatus.LINKED if confirmed else LinkStatus.INITIAL,
            linked_at=timezone.now() if confirmed else None,
        )
        if confirmed:
            _link_event(link, PartnerEventType.LINK_LINKED)
        return link


def link_representation(link: PartnerLink) -> dict:
    """A link as the &Charge API shows it (`{"status","activationCode","userId"}`); an event never carries a code."""
    return {"status": link.status, "activationCode": None, "userId": link.external_user_id}


def _link_event(link: PartnerLink, type: PartnerEventType) -> None:
    events.event_record(partner_id=link.partner_id, type=type, subject=link, build=lambda: link_representation(link))


def _link_lock_current(*, partner: Partner, external_user_id: str) -> PartnerLink | None:
    """The partner's current (not removed) link for a userId, row-locked; None if there is none."""
    return (
        PartnerLink.objects.select_for_update(of=("self",))
        .filter(partner=partner, external_user_id=external_user_id)
        .exclude(status=LinkStatus.REMOVED)
        .first()
    )


def partner_link_start(*, partner: Partner, external_user_id: str) -> tuple[PartnerLink, str | None]:
    """A partner starts linking its userId (POST /accounts?userId=). Returns (link, activation code).

    A LINKED userId is returned as it is, with no code. Otherwise the link (opened INITIAL when there is none)
    gets a fresh code valid LINK_ACTIVATION_HOURS, replacing any earlier one; only its digest is stored.
    Locks the link row; two concurrent starts for one userId open one link (the UNIQUE constraint decides, the
    loser then locks the winner's row). The caller validates `external_user_id`.
    """
    with transaction.atomic():
        link = _link_lock_current(partner=partner, external_user_id=external_user_id)
        if link is None:
            try:
                with transaction.atomic():
                    link = PartnerLink.objects.create(partner=partner, external_user_id=external_user_id)
            except IntegrityError:
                link = _link_lock_current(partner=partner, external_user_id=external_user_id)
        if link.status == LinkStatus.LINKED:
            return link, None
        code = secrets.token_urlsafe(32)
        now = timezone.now()
        link.activation_code_digest = secret_digest(code)
        link.activation_code_issued_at = now
        link.activation_code_expires_at = now + timedelta(hours=settings.LINK_ACTIVATION_HOURS)
        link.activation_code_used_at = None
        link.save(
            update_fields=[
                "activation_code_digest",
                "activation_code_issued_at",
                "activation_code_expires_at",
                "activation_code_used_at",
            ]
        )
    return link, code


def partner_link_remove(*, partner: Partner, external_user_id: str) -> PartnerLink:
    """A partner removes its link for a userId (DELETE /accounts?userId=), INITIAL or LINKED. The row stays as
    history (REMOVED); the userId may be linked again. Locks the link row. Raises ObjectNotFound("user", userId)."""
    with transaction.atomic():
        link = _link_lock_current(partner=partner, external_user_id=external_user_id)
        if link is None:
            raise ObjectNotFound("user", external_user_id)
        link.status = LinkStatus.REMOVED
        link.removed_at = timezone.now()
        link.save(update_fields=["status", "removed_at"])
        _link_event(link, PartnerEventType.LINK_REMOVED)
    return link


def _link_lock_by_code(*, partner: Partner, external_user_id: str, activation_code: str) -> PartnerLink:
    """The INITIAL link an unused, unexpired activation code belongs to, row-locked. Raises ActivationCodeNotFound,
    or ObjectNotFound("user", userId) when the code belongs to another partner or userId."""
    if not activation_code:
        raise ActivationCodeNotFound()
    link = (
        PartnerLink.objects.select_for_update(of=("self",))
        .filter(activation_code_digest=secret_digest(activation_code), status=LinkStatus.INITIAL)
        .first()
    )
    if link is None or link.activation_code_used_at is not None or link.activation_code_expires_at <= timezone.now():
        raise ActivationCodeNotFound()
    if link.partner_id != partner.pk or link.external_user_id != external_user_id:
        raise ObjectNotFound("user", external_user_id)
    return link


def partner_link_check_code(*, partner: Partner, external_user_id: str, activation_code: str) -> PartnerLink:
    """What the hosted page asks before showing the confirmation: the code's INITIAL link.
    Raises ActivationCodeNotFound, ObjectNotFound (see _link_lock_by_code)."""
    with transaction.atomic():
        return _link_lock_by_code(partner=partner, external_user_id=external_user_id, activation_code=activation_code)


def partner_link_confirm(*, partner: Partner, external_user_id: str, activation_code: str, customer: Customer) -> PartnerLink:
    """The customer confirms a link on the hosted page: the code is used and the link becomes LINKED to them.

    A userId already LINKED to this customer answers as done (a reload after confirming). Locks the link row.
    Raises AccountLinkedToDifferentUser (the userId is linked to someone else, or the customer already to
    another userId of this partner), ActivationCodeNotFound, ObjectNotFound.
    """
    with transaction.atomic():
        current = _link_lock_current(partner=partner, external_user_id=external_user_id)
        if current is not None and current.status == LinkStatus.LINKED:
            if current.customer_id != customer.pk:
                raise AccountLinkedToDifferentUser(external_user_id)
            return current
        link = _link_lock_by_code(partner=partner, external_user_id=external_user_id, activation_code=activation_code)
        if link.customer_id is not None and link.customer_id != customer.pk:
            raise AccountLinkedToDifferentUser(external_user_id)
        other = PartnerLink.objects.filter(partner=partner, customer=customer).exclude(status=LinkStatus.REMOVED)
        if other.exclude(pk=link.pk).exists():
            raise AccountLinkedToDifferentUser(external_user_id)
        now = timezone.now()
        link.customer = customer
        link.status = LinkStatus.LINKED
        link.linked_at = now
        link.activation_code_used_at = now
        link.save(update_fields=["customer", "status", "linked_at", "activation_code_used_at"])
        _link_event(link, PartnerEventType.LINK_LINKED)
    return link


def partner_link_decline(*, partner: Partner, external_user_id: str, activation_code: str) -> PartnerLink:
    """The customer declines: the code is used up, the link stays INITIAL (not payable) until the partner starts
    again. Locks the link row. Raises ActivationCodeNotFound, ObjectNotFound."""
    with transaction.atomic():
        link = _link_lock_by_code(partner=partner, external_user_id=external_user_id, activation_code=activation_code)
        link.activation_code_used_at = timezone.now()
        link.save(update_fields=["activation_code_used_at"])
    return link


def _partner_tokens(*, key: PartnerApiKey) -> dict[str, str]:
    refresh = RefreshToken()
    refresh["api"] = ANDCHARGE_API
    refresh["partner"] = key.partner.code
    refresh["kid"] = key.access_key_id
    OutstandingToken.objects.create(
        jti=refresh["jti"], token=str(refresh), created_at=timezone.now(), expires_at=timezone.now() + refresh.lifetime
    )
    id_token = PartnerIdToken()
    id_token["partner"] = key.partner.code
    id_token["name"] = key.partner.name
    return {"accessToken": str(refresh.access_token), "refreshToken": str(refresh), "idToken": str(id_token)}


def partner_tokens_issue(*, access_key_id: str, secret: str) -> dict[str, str]:
    """Log a partner in with its API key. Raises AuthorizationInvalid for anything but an active key."""
    key = selectors.api_key_get_active(access_key_id=access_key_id)
    if key is None or not hmac.compare_digest(key.secret_digest, secret_digest(secret)):
        raise AuthorizationInvalid()
    return _partner_tokens(key=key)


def partner_tokens_refresh(*, raw_refresh_token: str) -> dict[str, str]:
    """Rotate: a valid, unused refresh token buys a new set of three tokens and is blacklisted.

    Locks the refresh token's OutstandingToken row, so of two concurrent refreshes with one token,
    exactly one succeeds. Raises AuthorizationInvalid.
    """
    try:
        refresh = RefreshToken(raw_refresh_token)  # signature, expiry, type, issuer, audience, blacklist
    except TokenError:
        raise AuthorizationInvalid() from None
    if refresh.get("api") != ANDCHARGE_API:
        raise AuthorizationInvalid()
    key = selectors.api_key_get_active(access_key_id=refresh.get("kid", ""))
    if key is None or key.partner.code != refresh.get("partner"):
        raise AuthorizationInvalid()
    with transaction.atomic():
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=refresh["jti"]).first()
        if outstanding is None:
            raise AuthorizationInvalid()
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
        if not created:
            raise AuthorizationInvalid()
        return _partner_tokens(key=key)


def service_account_create(*, partner: Partner, email: str, password: str, may_comp: bool = False) -> User:
    """Create a HOP service account for `partner`, allowed to charge cards of customers linked to it, and with
    `may_comp` to comp their cents wallets too (`wallet.comp_wallet`)."""
    email = email.strip().lower()
    if not email or "@" not in email or User.objects.filter(email__iexact=email).exists():
        raise InvalidParameter(email, "email")
    try:
        validate_password(password)
    except ValidationError as error:
        raise InvalidParameter("", "password") from error
    with transaction.atomic():
        user = User.objects.create_user(username=email, email=email, password=password, partner=partner)
        user.user_permissions.add(Permission.objects.get(codename="charge_card", content_type__app_label="gateways"))
        if may_comp:
            user.user_permissions.add(Permission.objects.get(codename="comp_wallet", content_type__app_label="wallet"))
    return user


def service_account_token(*, email: str, password: str) -> tuple[User, str]:
    """HOP login: an active service account's credentials → a HOP JWT, stamped with the account's current
    credentials (accounts.tokens.credentials_stamp). Raises AuthorizationInvalid."""
    user = User.objects.filter(email__iexact=email.strip(), partner__isnull=False).first() if email else None
    if user is None:
        User().set_password(password)  # as long as a real check, so timing does not tell which emails exist
        raise AuthorizationInvalid()
    # check_password, not authenticate(): the admin's brute-force guard (django-axes) sits on the
    # authentication backends and needs the admin's request; this API answers in its own envelope.
    if not (user.is_active and user.check_password(password) and user.partner.is_active):
        raise AuthorizationInvalid()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(minutes=settings.HOP_JWT_MINUTES))
    token["api"] = HOP_API
    token[CREDENTIALS_CLAIM] = credentials_stamp(user)
    return user, str(token)


def rfid_token_add(*, customer: Customer, token: str) -> RfidToken:
    token = token.strip()
    if not token or len(token) > 100 or RfidToken.objects.filter(token=token).exists():
        raise InvalidParameter(token, "token")
    return RfidToken.objects.create(customer=customer, token=token)


def rfid_token_revoke(*, rfid: RfidToken) -> RfidToken:
    RfidToken.objects.filter(pk=rfid.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    rfid.refresh_from_db()
    return rfid


def partner_get_by_code(*, code: str) -> Partner:
    partner = Partner.objects.filter(code=code).first()
    if partner is None:
        raise ObjectNotFound("partner", code)
    return partner
