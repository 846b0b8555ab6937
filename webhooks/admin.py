"""Webhooks in the back-office: endpoints (register one for a partner, enable, disable, rotate its secret), the
deliveries per endpoint and per event with every attempt (status, duration, response excerpt), and replay of one
delivery or of a time range of an endpoint's events. Every staff action is a confirmation page with a required
reason and is audited by the service it calls."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.models import PartnerEvent, PartnerEventType
from core.admin import ReadOnlyInline, ReadOnlyModelAdmin, ReasonForm, staff_action_page

from . import services
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

TEMPLATE = "admin/staff_action.html"


class EndpointAddForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(choices=PartnerEventType.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["partner", "url", "event_types", "description", "contact_email"]


class EventDeliveryInline(ReadOnlyInline):
    """An event's deliveries: one per endpoint, plus replays."""

    model = WebhookDelivery
    fields = ["delivery_link", "endpoint", "status", "attempt_count", "last_status_code", "next_attempt_at", "replayed_by"]
    ordering = ["-pk"]
    max_num = 0

    @admin.display(description="delivery")
    def delivery_link(self, obj):
        return format_html('<a href="{}">#{}</a>', reverse("admin:webhooks_webhookdelivery_change", args=[obj.pk]), obj.pk)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("endpoint", "replayed_by")


class AttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "duration_ms", "error", "response_excerpt", "next_attempt_at"]


class ReplayRangeForm(ReasonForm):
    since = forms.DateTimeField(help_text="From (UTC), e.g. 2026-11-30 08:00")
    until = forms.DateTimeField(help_text="Until (UTC), excluded")

    field_order = ["since", "until", "reason"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    audited_by_service = True  # the add form calls services.endpoint_create, which audits it
    list_display = ["id", "partner", "url", "enabled", "failing_since", "created_at"]
    list_filter = ["enabled", "partner"]
    search_fields = ["url", "partner__code"]
    readonly_fields = [
        "deliveries",
        "partner",
        "url",
        "event_types",
        "description",
        "contact_email",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "previous_secret_expires_at",
        "created_at",
        "deleted_at",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = EndpointAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else EndpointAddForm.Meta.fields

    @admin.display(description="deliveries")
    def deliveries(self, obj):
        """A link to this endpoint's deliveries (there may be many: the list pages them, an inline would not)."""
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a id="endpoint-deliveries" href="{}">{} deliveries</a>', url, obj.deliveries.count())

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        endpoint, secret = services.endpoint_create(
            partner=data["partner"],
            url=data["url"],
            event_types=list(data["event_types"]),
            description=data.get("description", ""),
            contact_email=data.get("contact_email", ""),
            actor=request.user,
        )
        obj.pk = endpoint.pk
        obj.created_at = endpoint.created_at
        obj.secret = endpoint.secret
        obj.event_types = endpoint.event_types
        self.message_user(request, f"Signing secret (shown only now; give it to the partner): {secret}", messages.WARNING)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_act": request.user.has_perm("webhooks.change_webhookendpoint")}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/replay/", view(self.replay_range_view), name="webhooks_webhookendpoint_replay"),
            path("<int:object_id>/enable/", view(self.enable_view), name="webhooks_webhookendpoint_enable"),
            path("<int:object_id>/disable/", view(self.disable_view), name="webhooks_webhookendpoint_disable"),
            *super().get_urls(),
        ]

    def _endpoint(self, request, object_id) -> WebhookEndpoint:
        if not request.user.has_perm("webhooks.change_webhookendpoint"):
            raise PermissionDenied
        return get_object_or_404(WebhookEndpoint.objects.select_related("partner"), pk=object_id)

    def replay_range_view(self, request, object_id: int):
        """Send the endpoint every event of a time range again (same webhook-ids), e.g. after an outage of theirs."""
        endpoint = self._endpoint(request, object_id)
        return staff_action_page(
            request,
            self,
            obj=endpoint,
            form=ReplayRangeForm(request.POST or None),
            perform=lambda data: services.endpoint_replay_range_by_staff(
                endpoint_id=endpoint.pk, since=data["since"], until=data["until"], staff=request.user, reason=data["reason"]
            ),
            done=lambda ids: (
                f"{len(ids)} events are being sent to {endpoint.url} again.",
                reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
            ),
            template=TEMPLATE,
            context={
                "title": f"Replay events to {endpoint.url}",
                "confirm_label": "Replay",
                "blocked": "" if endpoint.enabled else "A disabled endpoint receives nothing; enable it first.",
            },
        )

    def enable_view(self, request, object_id: int):
        endpoint = self._endpoint(request, object_id)
        return staff_action_page(
            request,
            self,
            obj=endpoint,
            form=ReasonForm(request.POST or None),
            perform=lambda data: services.endpoint_enable_by_staff(
                endpoint_id=endpoint.pk, staff=request.user, reason=data["reason"]
            ),
            done=lambda e: (f"{e.url} is enabled.", reverse("admin:webhooks_webhookendpoint_change", args=[e.pk])),
            template=TEMPLATE,
            context={
                "title": f"Enable {endpoint.url}",
                "confirm_label": "Enable",
                "blocked": "" if not endpoint.enabled and not endpoint.deleted_at else "Only a disabled endpoint can be enabled.",
            },
        )

    def disable_view(self, request, object_id: int):
        endpoint = self._endpoint(request, object_id)
        return staff_action_page(
            request,
            self,
            obj=endpoint,
            form=ReasonForm(request.POST or None),
            perform=lambda data: services.endpoint_disable_by_staff(
                endpoint_id=endpoint.pk, staff=request.user, reason=data["reason"]
            ),
            done=lambda e: (f"{e.url} is disabled.", reverse("admin:webhooks_webhookendpoint_change", args=[e.pk])),
            template=TEMPLATE,
            context={
                "title": f"Disable {endpoint.url}",
                "confirm_label": "Disable",
                "blocked": "" if endpoint.enabled else "The endpoint is already disabled.",
            },
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "event_type", "event_id_shown", "endpoint", "status", "attempt_count", "last_status_code", "created_at"]
    list_filter = ["status", "event__type", "endpoint__partner", "endpoint"]
    search_fields = ["event__event_id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "lease_until",
        "last_status_code",
        "created_at",
        "finished_at",
        "replayed_by",
    ]
    inlines = [AttemptInline]

    @admin.display(description="type", ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description="webhook-id")
    def event_id_shown(self, obj):
        return obj.event.event_id

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_replay": request.user.has_perm("webhooks.change_webhookendpoint")}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path("<int:object_id>/replay/", self.admin_site.admin_view(self.replay_view), name="webhooks_webhookdelivery_replay"),
            *super().get_urls(),
        ]

    def replay_view(self, request, object_id: int):
        """Send this delivery's event to its endpoint again (a new delivery, the same webhook-id)."""
        if not request.user.has_perm("webhooks.change_webhookendpoint"):
            raise PermissionDenied
        delivery = get_object_or_404(WebhookDelivery.objects.select_related("event", "endpoint"), pk=object_id)
        return staff_action_page(
            request,
            self,
            obj=delivery,
            form=ReasonForm(request.POST or None),
            perform=lambda data: services.delivery_replay_by_staff(
                delivery_id=delivery.pk, staff=request.user, reason=data["reason"]
            ),
            done=lambda replay: (
                f"Event {delivery.event.event_id} is being sent again (delivery #{replay.pk}).",
                reverse("admin:webhooks_webhookdelivery_change", args=[replay.pk]),
            ),
            template=TEMPLATE,
            context={
                "title": f"Replay {delivery.event.type} {delivery.event.event_id} to {delivery.endpoint.url}",
                "confirm_label": "Replay",
                "blocked": "" if delivery.endpoint.enabled else "A disabled endpoint receives nothing; enable it first.",
            },
        )


@admin.register(PartnerEvent)
class PartnerEventAdmin(ReadOnlyModelAdmin):
    list_display = ["event_id", "type", "partner", "created_at", "dispatched_at"]
    list_filter = ["type", "partner"]
    search_fields = ["event_id", "subject"]
    list_select_related = ["partner"]
    readonly_fields = ["event_id", "partner", "type", "subject", "data", "created_at", "dispatched_at"]
    inlines = [EventDeliveryInline]
