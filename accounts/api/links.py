"""&Charge account linking by the partner: start a link (an activation code for the hosted page) or remove one
(DESIGN §3.5)."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts import services
from accounts.api.andcharge import AndChargeView
from accounts.models import LinkStatus
from core import errors
from core.api.openapi import ANDCHARGE_FORBIDDEN, ANDCHARGE_RATE_LIMITED, ANDCHARGE_UNAUTHORIZED, andcharge_errors

USER_ID = OpenApiParameter("userId", str, required=True, description="The partner's own user id (1–100 characters)")
LINK = inline_serializer(
    "AccountLink",
    {
        "status": serializers.ChoiceField(choices=[LinkStatus.INITIAL, LinkStatus.LINKED]),
        "activationCode": serializers.CharField(allow_null=True),
        "userId": serializers.CharField(),
    },
)
ERRORS = andcharge_errors(
    (errors.MandatoryParameterNotSet("userId"), "MANDATORY_PARAMETER_NOT_SET userId: no userId query parameter"),
    (errors.ParameterMaxLength("userId", 100), "PARAMETER_MAX_LENGTH userId: over 100 characters"),
    (errors.InvalidParameter(" ", "userId"), "INVALID_PARAMETER userId: blank"),
    ANDCHARGE_UNAUTHORIZED,
    ANDCHARGE_FORBIDDEN,
    ANDCHARGE_RATE_LIMITED,
)


def _user_id(request) -> str:
    user_id = request.query_params.get("userId")
    if user_id is None:
        raise errors.MandatoryParameterNotSet("userId")
    if len(user_id) > 100:
        raise errors.ParameterMaxLength("userId", 100)
    if not user_id.strip():
        raise errors.InvalidParameter(user_id, "userId")
    return user_id


class PartnerAccountsView(AndChargeView):
    @extend_schema(
        operation_id="linkAccount",
        summary="Start linking a userId: an activation code for the hosted confirmation page",
        description=(
            "A new or still-INITIAL link answers 201 with a fresh activation code (single use, valid "
            "LINK_ACTIVATION_HOURS, replaces any earlier code); send the customer's browser to "
            "`/link/confirm?activationCode=&partnerId=&partnerUserId=&callbackUrl=`. An INITIAL link is not payable. "
            "A LINKED userId answers 200 with no code and changes nothing."
        ),
        parameters=[USER_ID],
        request=None,
        responses={201: LINK, 200: LINK, **ERRORS},
        examples=[
            OpenApiExample(
                "Started",
                status_codes=["201"],
                response_only=True,
                value={
                    "status": "INITIAL",
                    "activationCode": "q3V0bGlua2NvZGUtZXhhbXBsZS0yNTYtYml0cy1oZXJl",
                    "userId": "pcsUserId001",
                },
            ),
            OpenApiExample(
                "Already linked",
                status_codes=["200"],
                response_only=True,
                value={"status": "LINKED", "activationCode": None, "userId": "pcsUserId001"},
            ),
        ],
    )
    def post(self, request, partner_id: str):
        user_id = _user_id(request)
        link, code = services.partner_link_start(partner=self.partner, external_user_id=user_id)
        body = {"status": link.status, "activationCode": code, "userId": user_id}
        return Response(body, status=200 if code is None else 201)

    @extend_schema(
        operation_id="unlinkAccount",
        summary="Remove a userId's link (INITIAL or LINKED); the userId may be linked again later",
        parameters=[USER_ID],
        request=None,
        responses={
            204: None,
            **ERRORS,
            **andcharge_errors(
                (errors.ObjectNotFound("user", "pcsUserId404"), "REFERENCED_OBJECT_NOT_FOUND user: no link for this userId")
            ),
        },
    )
    def delete(self, request, partner_id: str):
        services.partner_link_remove(partner=self.partner, external_user_id=_user_id(request))
        return Response(status=204)
