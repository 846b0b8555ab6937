"""Plumbing shared by the back-office pages of every app: read-only model admins, the confirmation page of
a staff action (a required reason), and clear messages for refused actions."""

from .tools import (
    ReadOnlyModelAdmin,
    ReasonForm,
    masked_metadata,
    render_staff_page,
    staff_action_page,
    staff_error_message,
)

__all__ = ["ReadOnlyModelAdmin", "ReasonForm", "masked_metadata", "render_staff_page", "staff_action_page", "staff_error_message"]
