"""Writes for partner webhooks: endpoints, the fan-out of outbox events to deliveries, one delivery attempt, the
sweeper, replays. The HTTP request of an attempt runs outside any database transaction (webhooks.outbound).

Delivery (DESIGN §11, Standard Webhooks 1.0): `POST` of `{"type","timestamp","data"}` with `webhook-id` (the
event's id, the same on every retry and replay), `webhook-timestamp` (the attempt's unix time) and
`webhook-signature` (one `v1,` signature per secret in use). Any 2xx within WEBHOOK_TIMEOUT_SECONDS is a success.
Otherwise the next try follows WEBHOOK_RETRY_SCHEDULE (after the first failure 5 s, then 5 min, 30 min, 2 h, 5 h,
10 h, 10 h), each delay ±WEBHOOK_RETRY_JITTER, never sooner than the answer's `Retry-After`; after the last the
delivery FAILED. A 410 disables the endpoint. An endpoint failing (no success) for WEBHOOK_DISABLE_AFTER_HOURS is
disabled and its contact is e-mailed.
"""

import json
import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Partner, PartnerEvent, PartnerEventType, User
from core.errors import InvalidParameter, ObjectNotFound
from ledger import selectors as ledger_selectors
from ledger.models import TransactionStatus
from ledger.representations import transaction_representation

from . import outbound, queue, signing
from .models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("chargepay.webhooks")

MAX_ENDPOINTS_PER_PARTNER = 10


# --- Endpoints -------------------------------------------------------------------------------------------------


def _event_types_clean(event_types) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise InvalidParameter(event_types, "eventTypes")
    for value in event_types:
        if value not in PartnerEventType.values:
            raise InvalidParameter(value, "eventTypes")
    return sorted(set(event_types))


def endpoint_create(
    *,
    partner: Partner,
    url: str,
    event_types: list[str],
    description: str = "",
    contact_email: str = "",
    actor: User | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for `partner`. Returns (endpoint, secret): the secret is shown only now. Audited (`actor`
    None: the partner through the API). Raises InvalidParameter (url, eventTypes, contactEmail, too many endpoints)."""
    problem = outbound.url_problem(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
    if problem:
        raise InvalidParameter(url, "url")
    types = _event_types_clean(event_types)
    secret = signing.secret_new()
    with transaction.atomic():
        # One count at a time per partner. NO KEY UPDATE: payments hold KEY SHARE on the partner row (their FK) and
        # must not wait for this.
        Partner.objects.select_for_update(no_key=True).filter(pk=partner.pk).first()
        if WebhookEndpoint.objects.filter(partner=partner, deleted_at__isnull=True).count() >= MAX_ENDPOINTS_PER_PARTNER:
            raise InvalidParameter(MAX_ENDPOINTS_PER_PARTNER, "webhooks")
        endpoint = WebhookEndpoint.objects.create(
            partner=partner,
            url=url,
            event_types=types,
            description=description,
            contact_email=contact_email,
            secret=secret,
        )
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_ENDPOINT_CHANGE,
            reason="endpoint registered" + ("" if actor else " by the partner through POST /webhooks"),
            target=endpoint,
            partner=partner,
            detail={"url": url, "eventTypes": types},
        )
    return endpoint, secret


def _endpoint_pk(endpoint_id) -> int | None:
    """An id from a URL path as a primary key; None (found nowhere) for anything that is not one (a bigint fits 18 digits)."""
    text = str(endpoint_id)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _endpoint_lock(*, partner: Partner, endpoint_id) -> WebhookEndpoint:
    endpoint = (
        WebhookEndpoint.objects.select_for_update()
        .filter(pk=_endpoint_pk(endpoint_id), partner=partner, deleted_at__isnull=True)
        .first()
    )
    if endpoint is None:
        raise ObjectNotFound("webhook", str(endpoint_id))
    return endpoint


def endpoint_delete(*, partner: Partner, endpoint_id, actor: User | None = None) -> WebhookEndpoint:
    """Delete a partner's endpoint: it stops at once (its pending deliveries are cancelled) and stays as history.
    Locks the endpoint row. Audited. Raises ObjectNotFound("webhook", id) (unknown, deleted, another partner's)."""
    with transaction.atomic():
        endpoint = _endpoint_lock(partner=partner, endpoint_id=endpoint_id)
        endpoint.deleted_at = timezone.now()
        endpoint.enabled = False
        endpoint.disabled_reason = "deleted"
        endpoint.disabled_at = endpoint.deleted_at
        endpoint.save()
        _pending_cancel(endpoint)
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_ENDPOINT_CHANGE,
            reason="endpoint deleted" + ("" if actor else " by the partner through DELETE /webhooks/{id}"),
            target=endpoint,
            partner=partner,
            detail={"url": endpoint.url},
        )
    return endpoint


def endpoint_secret_rotate(*, partner: Partner, endpoint_id, actor: User | None = None) -> tuple[WebhookEndpoint, str]:
    """A new secret for an endpoint; the one it replaces keeps signing (a second signature) for
    WEBHOOK_SECRET_OVERLAP_HOURS so the partner can switch without losing an event. Locks the endpoint. Audited.
    Returns (endpoint, new secret), shown only now. Raises ObjectNotFound."""
    secret = signing.secret_new()
    with transaction.atomic():
        endpoint = _endpoint_lock(partner=partner, endpoint_id=endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
        endpoint.secret = secret
        endpoint.save(update_fields=["previous_secret", "previous_secret_expires_at", "secret"])
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_ENDPOINT_CHANGE,
            reason="secret rotated" + ("" if actor else " by the partner through POST /webhooks/{id}/secret"),
            target=endpoint,
            partner=partner,
            detail={"previousSecretValidUntil": endpoint.previous_secret_expires_at.isoformat()},
        )
    return endpoint, secret


def endpoint_enable_by_staff(*, endpoint_id: int, staff: User, reason: str) -> WebhookEndpoint:
    """Staff enable an endpoint that was disabled (410, failing for days, or by staff) after the partner fixed it.
    Deliveries start with the next event (replay what was missed). Audited. Raises InvalidParameter (reason)."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id, deleted_at__isnull=True)
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = True, "", None, None
        endpoint.save()
        audit_record(
            actor=staff,
            action=AuditAction.WEBHOOK_ENDPOINT_CHANGE,
            reason=reason,
            target=endpoint,
            partner=endpoint.partner_id,
            detail={"enabled": True},
        )
    return endpoint


def endpoint_disable_by_staff(*, endpoint_id: int, staff: User, reason: str) -> WebhookEndpoint:
    """Staff disable an endpoint (its pending deliveries are cancelled). Audited. Raises InvalidParameter (reason)."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id, deleted_at__isnull=True)
        _endpoint_disable(endpoint, f"disabled by staff: {reason.strip()}")
        audit_record(
            actor=staff,
            action=AuditAction.WEBHOOK_ENDPOINT_CHANGE,
            reason=reason,
            target=endpoint,
            partner=endpoint.partner_id,
            detail={"enabled": False},
        )
    return endpoint


def _endpoint_disable(endpoint: WebhookEndpoint, reason: str) -> None:
    """Disable a locked endpoint and cancel its pending deliveries (the caller's transaction)."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:255]
    endpoint.disabled_at = timezone.now()
    endpoint.save(update_fields=["enabled", "disabled_reason", "disabled_at"])
    _pending_cancel(endpoint)
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)


def _pending_cancel(endpoint: WebhookEndpoint) -> None:
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, finished_at=timezone.now(), lease_until=None
    )


def secrets_in_use(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""
    in_use = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        in_use.append(endpoint.previous_secret)
    return in_use


# --- Fan-out: an outbox event becomes one delivery per subscribed endpoint ---------------------------------------

_RENDERED_BY_DATABASE = {PartnerEventType.TRANSACTION_CONFIRMED}


def _event_data_render(event: PartnerEvent) -> str:
    """The data of an event the database recorded (a confirmed payment, webhooks/sql/): the transaction as the
    &Charge API shows it, CONFIRMED as it was when the event happened (a later reversal is its own event)."""
    label, _, pk = event.subject.partition(":")
    if event.type not in _RENDERED_BY_DATABASE or label != "ledger.transaction":
        raise ValueError(f"event {event.pk} has no data and no known subject {event.subject!r}")
    txn = ledger_selectors.transaction_as_shown(transaction_id=int(pk))
    txn.status = TransactionStatus.CONFIRMED
    return json.dumps(transaction_representation(txn), ensure_ascii=False, separators=(",", ":"))


def event_dispatch(*, event_pk: int) -> int:
    """Create a delivery for each enabled endpoint of the event's partner subscribed to its type, mark the event
    dispatched, and after commit enqueue the deliveries. Idempotent (the event row is locked; a dispatched event is
    left alone; a delivery exists at most once per event and endpoint). Returns the number of deliveries created."""
    with transaction.atomic():
        event = PartnerEvent.objects.select_for_update(skip_locked=True).filter(pk=event_pk, dispatched_at__isnull=True).first()
        if event is None:
            return 0
        now = timezone.now()
        if not event.data:
            event.data = _event_data_render(event)
        endpoints = WebhookEndpoint.objects.filter(partner_id=event.partner_id, enabled=True, event_types__contains=[event.type])
        created = []
        for endpoint in endpoints:
            delivery, made = WebhookDelivery.objects.get_or_create(
                event=event,
                endpoint=endpoint,
                replayed_by=None,
                defaults={"next_attempt_at": now, "enqueued_at": now},
            )
            if made:
                created.append(delivery.pk)
        event.dispatched_at = now
        event.save(update_fields=["data", "dispatched_at"])
        transaction.on_commit(lambda: [queue.enqueue(queue.DELIVER, pk) for pk in created])
    return len(created)


# --- One attempt ------------------------------------------------------------------------------------------------


def delivery_claim(*, delivery_id: int) -> WebhookDelivery | None:
    """Claim a due PENDING delivery for one worker (a conditional UPDATE: no unexpired lease, due now). None when
    it is done, not due yet, or someone else holds it."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS), attempt_count=F("attempt_count") + 1)
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)


def request_body(event: PartnerEvent) -> bytes:
    """`{"type","timestamp","data"}`: the same bytes on every attempt (the timestamp is the event's)."""
    moment = event.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f'{{"type":{json.dumps(event.type)},"timestamp":"{moment}","data":{event.data}}}'.encode()


def retry_delay(*, attempts_made: int, retry_after: str, now: datetime) -> float | None:
    """Seconds until the next try after `attempts_made` failed ones, or None when the schedule is used up.
    The schedule's delay with jitter, and never sooner than `Retry-After` (seconds or an HTTP date)."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts_made > len(schedule):
        return None
    delay = schedule[attempts_made - 1]
    delay *= 1 + random.uniform(-settings.WEBHOOK_RETRY_JITTER, settings.WEBHOOK_RETRY_JITTER)  # noqa: S311 (jitter)
    wait = _retry_after_seconds(retry_after, now=now)
    return max(delay, min(wait, max(schedule))) if wait is not None else delay


def _retry_after_seconds(value: str, *, now: datetime) -> float | None:
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - now).total_seconds()) if moment.tzinfo else None


def delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Make one attempt of a due delivery: claim it, POST the signed event (outside any transaction), then record
    the attempt and decide, under the delivery's and the endpoint's row locks: SUCCEEDED; FAILED (410, which also
    disables the endpoint, or the schedule used up); or the next try. Returns the delivery, or None (nothing due)."""
    delivery = delivery_claim(delivery_id=delivery_id)
    if delivery is None:
        return None
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.enabled:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED, finished_at=timezone.now(), lease_until=None
        )
        return WebhookDelivery.objects.get(pk=delivery.pk)
    body = request_body(event)
    started = timezone.now()
    timestamp = int(started.timestamp())
    headers = signing.headers(secrets_in_use(endpoint, now=started), msg_id=event.event_id, timestamp=timestamp, body=body)
    answer = outbound.post(
        endpoint.url,
        body=body,
        headers=headers,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
    )
    return _attempt_record(delivery_id=delivery.pk, started=started, answer=answer)


def _attempt_record(*, delivery_id: int, started: datetime, answer: outbound.Answer) -> WebhookDelivery:
    now = timezone.now()
    notify = None
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        attempt = WebhookAttempt(
            delivery=delivery,
            attempted_at=started,
            duration_ms=answer.duration_ms,
            status_code=answer.status,
            response_excerpt=answer.excerpt,
            error=answer.error,
        )
        delivery.lease_until = None
        delivery.last_status_code = answer.status
        if delivery.status != DeliveryStatus.PENDING:  # cancelled meanwhile (endpoint deleted or disabled)
            attempt.save()
            delivery.save(update_fields=["lease_until", "last_status_code"])
            return delivery
        if answer.status is not None and 200 <= answer.status < 300:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.finished_at = now
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
        elif answer.status == 410:
            delivery.status = DeliveryStatus.FAILED
            delivery.finished_at = now
            _endpoint_disable(endpoint, "the endpoint answered 410 Gone")
        else:
            delay = retry_delay(attempts_made=delivery.attempt_count, retry_after=answer.retry_after, now=now)
            if delay is None:
                delivery.status = DeliveryStatus.FAILED
                delivery.finished_at = now
            else:
                delivery.next_attempt_at = attempt.next_attempt_at = now + timedelta(seconds=delay)
                delivery.enqueued_at = now
                if delay < settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:  # later ones are the sweeper's
                    transaction.on_commit(lambda: queue.enqueue(queue.DELIVER, delivery_id, countdown=delay))
            if endpoint.failing_since is None:
                endpoint.failing_since = started
                endpoint.save(update_fields=["failing_since"])
            elif now - endpoint.failing_since >= timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS):
                _endpoint_disable(endpoint, f"failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC")
                delivery.status = DeliveryStatus.CANCELLED
                delivery.finished_at = now
                notify = endpoint
        attempt.save()
        delivery.save()
        if notify is not None:
            transaction.on_commit(lambda: _failing_endpoint_notify(notify))
    logger.info("webhook delivery %s attempt %s: %s", delivery.pk, delivery.attempt_count, answer.status or answer.error)
    return delivery


def contact_addresses(endpoint: WebhookEndpoint) -> list[str]:
    """Who hears about the endpoint: its contact e-mail, else the e-mail of the partner's service accounts."""
    if endpoint.contact_email:
        return [endpoint.contact_email]
    return sorted(
        User.objects.filter(partner_id=endpoint.partner_id, is_active=True).exclude(email="").values_list("email", flat=True)
    )


def _failing_endpoint_notify(endpoint: WebhookEndpoint) -> None:
    recipients = contact_addresses(endpoint)
    if not recipients:
        logger.warning("webhook endpoint %s disabled; its partner has no contact address", endpoint.pk)
        return
    send_mail(
        subject=f"Charge&Pay: your webhook endpoint was disabled ({endpoint.url})",
        message=(
            f"Deliveries to {endpoint.url} have been failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC, so the "
            "endpoint was disabled and receives no more events.\n\nFix the endpoint, then ask support to enable it "
            "again and to replay the events you missed (they are kept), or register a new endpoint.\n"
        ),
        from_email=None,
        recipient_list=recipients,
    )


# --- The sweeper -----------------------------------------------------------------------------------------------


def webhooks_sweep() -> dict[str, int]:
    """Dispatch the events not dispatched in time (the hand-over after commit was lost: Redis down, worker killed)
    and re-enqueue the deliveries that are due and not started in time (lost message, expired lease of a killed
    worker, or a retry too far ahead for a countdown). Marks each delivery as enqueued now."""
    now = timezone.now()
    late = now - timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS)
    counts = {"dispatched": 0, "deliveries": 0}
    # An event the database recorded (a payment) has no hand-over at all: it is dispatched at the first sweep.
    events = PartnerEvent.objects.filter(Q(created_at__lt=late) | Q(data=""), dispatched_at__isnull=True).order_by("pk")
    for event_pk in events.values_list("pk", flat=True)[:1000]:
        event_dispatch(event_pk=event_pk)
        counts["dispatched"] += 1
    due = (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=late)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=late))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
    for delivery_id in list(due):
        WebhookDelivery.objects.filter(pk=delivery_id).update(enqueued_at=now)
        counts["deliveries"] += queue.enqueue(queue.DELIVER, delivery_id)
    return counts


# --- Replay (staff) ---------------------------------------------------------------------------------------------


def _replay(event: PartnerEvent, endpoint: WebhookEndpoint, staff: User) -> WebhookDelivery:
    now = timezone.now()
    return WebhookDelivery.objects.create(event=event, endpoint=endpoint, replayed_by=staff, next_attempt_at=now, enqueued_at=now)


def delivery_replay_by_staff(*, delivery_id: int, staff: User, reason: str) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new delivery with the same `webhook-id`. Audited.
    Raises InvalidParameter (reason; the endpoint is disabled or deleted)."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    with transaction.atomic():
        original = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
        if not original.endpoint.enabled:
            raise InvalidParameter(original.endpoint_id, "endpoint")
        replay = _replay(original.event, original.endpoint, staff)
        audit_record(
            actor=staff,
            action=AuditAction.WEBHOOK_REPLAY,
            reason=reason,
            target=original.endpoint,
            partner=original.endpoint.partner_id,
            detail={"events": [original.event.event_id], "deliveries": [replay.pk]},
        )
        transaction.on_commit(lambda: queue.enqueue(queue.DELIVER, replay.pk))
    return replay


def endpoint_replay_range_by_staff(*, endpoint_id: int, since: datetime, until: datetime, staff: User, reason: str) -> list[int]:
    """Send the endpoint every event of its partner of a type it subscribes to, created in [since, until), again:
    one new delivery each (same `webhook-id`s), in the order they happened. Audited once with the list.
    Raises InvalidParameter (reason, an empty or reversed range, a disabled endpoint). Returns the new deliveries."""
    if not reason.strip():
        raise InvalidParameter(reason, "reason")
    if until <= since:
        raise InvalidParameter(until.isoformat(), "until")
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        if not endpoint.enabled:
            raise InvalidParameter(endpoint.pk, "endpoint")
        events = PartnerEvent.objects.filter(
            partner_id=endpoint.partner_id,
            type__in=endpoint.event_types,
            created_at__gte=since,
            created_at__lt=until,
            dispatched_at__isnull=False,
        ).order_by("created_at", "pk")
        replays = [_replay(event, endpoint, staff) for event in events]
        audit_record(
            actor=staff,
            action=AuditAction.WEBHOOK_REPLAY,
            reason=reason,
            target=endpoint,
            partner=endpoint.partner_id,
            detail={
                "since": since.isoformat(),
                "until": until.isoformat(),
                "events": [r.event.event_id for r in replays],
                "deliveries": [r.pk for r in replays],
            },
        )
        ids = [r.pk for r in replays]
        transaction.on_commit(lambda: [queue.enqueue(queue.DELIVER, pk) for pk in ids])
    return ids
