"""Input and output serializers of the &Charge API (DESIGN §3)."""

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.api.fields import StrictCharField, StrictDictSerializerMixin, StrictIntegerField
from ledger.models import Transaction, TransactionKind, TransactionStatus
from ledger.representations import format_address, format_created, transaction_representation

# The &Charge service enum (TransactionRequest.service), and the Transaction.type values the services answer with
# (a donation answers CO2_DONATION).
PAY = TransactionKind.PAY_FOR_CHARGING_SESSION.value
CO2_OFFSET = TransactionKind.CO2_OFFSET_CHARGING_SESSION.value
DONATE = "DONATE_FOR_CO2_OFFSET"
SUPPORTED_SERVICES = {PAY, CO2_OFFSET, DONATE}
TRANSACTION_TYPES = sorted({PAY, CO2_OFFSET, TransactionKind.CO2_DONATION.value})
# Only the payment takes the valid request's fast path (transaction_request_fast); the others run the serializer.
FAST_PATH_SERVICES = {PAY}

EVSE_ID_RE = re.compile(r"^(([A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9\*]{1,30})|(\+?[0-9]{1,3}\*[0-9]{3}\*[0-9\*]{1,32}))$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{4})$")
DECIMAL_RE = re.compile(r"^\d{1,12}(\.\d{1,6})?$")
POSITIVE_INTEGER_RE = re.compile(r"^[0-9]{1,6}$")
GEO_RE = re.compile(r"^(-?\d{1,3}(?:\.\d{1,12})?),(-?\d{1,3}(?:\.\d{1,12})?)$")
COUNTRY_RE = re.compile(r"^[A-Z]{2,3}$")
COUNTRY_CODES = {c.alpha_2 for c in pycountry.countries} | {c.alpha_3 for c in pycountry.countries}


def parse_session_time(value: str) -> datetime:
    """`yyyy-MM-dd'T'HH:mm:ss.SSSZ` with `Z` or a `+HHMM` offset. Raises ValueError."""
    if not TIMESTAMP_RE.fullmatch(value):
        raise ValueError(value)
    return datetime.strptime(value.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


def _invalid():
    return serializers.ValidationError("invalid", code="invalid")


class TextRule(RegexValidator):
    """A value must match `regex` whole and pass `check` (a rule a regex cannot state, such as a range).

    A RegexValidator so that the OpenAPI schema states the regex as the field's `pattern`.
    """

    def __init__(self, regex: re.Pattern, check=None):
        super().__init__(regex.pattern)
        self.rule, self.check = regex, check

    def __call__(self, value: str) -> None:
        if not self.rule.fullmatch(value) or (self.check is not None and not self.check(value)):
            raise _invalid()


def _decimal_ok(value: str) -> bool:
    try:
        return Decimal(value) >= 0
    except InvalidOperation:
        return False


def _session_time_ok(value: str) -> bool:
    try:
        parse_session_time(value)
    except ValueError:
        return False
    return True


def _geo_ok(value: str) -> bool:
    match = GEO_RE.fullmatch(value)
    return bool(match) and -90 <= float(match[1]) <= 90 and -180 <= float(match[2]) <= 180


evse_id_validator = TextRule(EVSE_ID_RE)
session_time_validator = TextRule(TIMESTAMP_RE, _session_time_ok)
country_validator = TextRule(COUNTRY_RE, lambda value: value in COUNTRY_CODES)


geo_validator = TextRule(GEO_RE, _geo_ok)
decimal_validator = TextRule(DECIMAL_RE, _decimal_ok)
# MAX_CHARGING_POWER of a CO2 offset: whole kW (&Charge's format `#`), a charger of at least 1 kW.
power_validator = TextRule(POSITIVE_INTEGER_RE, lambda value: int(value) >= 1)

# The keys each service requires beyond what every service's payment requires (serviceSpecificData's declared
# fields state PAY_FOR_CHARGING_SESSION's rules); a donation requires none (`{}` will do).
CO2_REQUIRED_KEYS = ("CPO_ID", "MAX_CHARGING_POWER")


def _ssd(*validators, required=True, allow_blank=False):
    return StrictCharField(
        max_length=100, required=required, allow_blank=allow_blank, allow_null=not required, validators=list(validators)
    )


class ServiceSpecificDataSerializer(StrictDictSerializerMixin, serializers.Serializer):
    """The session's CDR. Every value is a JSON string; unknown keys are refused. The declared fields state the
    payment's rules; TransactionRequestSerializer adapts them to the request's service (service_rules_apply)."""

    EVSE_ID = _ssd(evse_id_validator)
    CONSUMED_ENERGY_KWH = _ssd(decimal_validator, allow_blank=True)
    SESSION_START = _ssd(session_time_validator)
    SESSION_END = _ssd(session_time_validator)
    GEO_POSITION_CHARGEPOINT = _ssd(geo_validator)
    GEO_POSITION_USER = _ssd(geo_validator, required=False, allow_blank=True)
    COUNTRY = _ssd(country_validator)
    CITY = _ssd(allow_blank=True)
    STREET = _ssd(allow_blank=True)
    HOUSE_NUMBER = _ssd(allow_blank=True)
    CPO_ID = _ssd(required=False, allow_blank=True)
    MAX_CHARGING_POWER = _ssd(decimal_validator, required=False, allow_blank=True)

    def validate(self, attrs):
        start, end = attrs.get("SESSION_START"), attrs.get("SESSION_END")
        if start and end and parse_session_time(end) < parse_session_time(start):
            raise serializers.ValidationError({"SESSION_END": [_invalid().detail[0]]})
        # Store what was sent, minus keys sent as null.
        return {key: value for key, value in attrs.items() if value is not None}


@extend_schema_field(
    {
        "type": "string",
        "enum": sorted(SUPPORTED_SERVICES),
        "description": "PAY_FOR_CHARGING_SESSION: kilometer required. CO2_OFFSET_CHARGING_SESSION: kilometer optional "
        "(computed from the session when absent), serviceSpecificData also requires CPO_ID and MAX_CHARGING_POWER "
        "(whole kW, ≥ 1). DONATE_FOR_CO2_OFFSET: kilometer required, serviceSpecificData may be {}.",
    }
)
class ServiceField(StrictCharField):
    pass


class ServiceSpecificDataSchema(OpenApiSerializerExtension):
    """In the OpenAPI schema no key is required of every service (a donation may send `{}`): the description says
    which service requires which; the server refuses a missing one with MANDATORY_PARAMETER_NOT_SET."""

    target_class = ServiceSpecificDataSerializer
    priority = 1  # over core.api.fields.StrictDictSchema, whose closed object it keeps

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema.pop("required", None)
        return {
            **schema,
            "additionalProperties": False,
            "description": "PAY_FOR_CHARGING_SESSION requires EVSE_ID, CONSUMED_ENERGY_KWH (may be empty), "
            "SESSION_START, SESSION_END, GEO_POSITION_CHARGEPOINT, COUNTRY, CITY, STREET, HOUSE_NUMBER; "
            "CO2_OFFSET_CHARGING_SESSION those and CPO_ID, MAX_CHARGING_POWER; DONATE_FOR_CO2_OFFSET none.",
        }


@extend_schema_serializer(component_name="Transaction")  # with the split request suffix: &Charge's TransactionRequest
class TransactionRequestSerializer(serializers.Serializer):
    """The &Charge TransactionRequest. Unknown top-level keys are ignored (forward compatibility)."""

    transactionId = StrictCharField(max_length=100)  # noqa: N815 (the contract's names)
    transactionReference = StrictCharField(max_length=100, required=False, allow_null=True, allow_blank=True)  # noqa: N815
    service = ServiceField(max_length=100)
    # Required but for CO2_OFFSET_CHARGING_SESSION (service_rules_apply); the schema states the loosest rule.
    kilometer = StrictIntegerField(
        min_value=1,
        max_value=settings.KM_MAX_PER_TRANSACTION,
        required=False,
        help_text="Required for PAY_FOR_CHARGING_SESSION and DONATE_FOR_CO2_OFFSET; optional for "
        "CO2_OFFSET_CHARGING_SESSION (when sent, used as sent).",
    )
    serviceSpecificData = ServiceSpecificDataSerializer()  # noqa: N815

    def to_internal_value(self, data):
        if isinstance(data, dict):
            self.service_rules_apply(data.get("service"))
        return super().to_internal_value(data)

    def service_rules_apply(self, service) -> None:
        """Adapt this instance's fields (DRF copies them per instance) to the request's service: which keys are
        required (types.md's table) and how MAX_CHARGING_POWER reads. An unknown service keeps the payment's rules
        (its own error comes first)."""
        self.fields["kilometer"].required = service != CO2_OFFSET
        keys = self.fields["serviceSpecificData"].fields
        if service == DONATE:
            for field in keys.values():
                field.required = False
        elif service == CO2_OFFSET:
            for name in CO2_REQUIRED_KEYS:
                keys[name].required, keys[name].allow_null, keys[name].allow_blank = True, False, False
            keys["MAX_CHARGING_POWER"].validators = [power_validator]

    def validate_service(self, value):
        # The partner-paid offset URL takes one service (context "services").
        if value not in self.context.get("services", SUPPORTED_SERVICES):
            raise _invalid()
        return value

    def validate_kilometer(self, value):
        if not 1 <= value <= settings.KM_MAX_PER_TRANSACTION:
            raise _invalid()
        return value


CREATED_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"

# The seed's sample request and answer (seeds/000), the examples of the OpenAPI schema.
SEED_REQUEST_EXAMPLE = {
    "transactionId": "348328463873",
    "transactionReference": "partner-20190423-0011",
    "service": "PAY_FOR_CHARGING_SESSION",
    "kilometer": 38,
    "serviceSpecificData": {
        "EVSE_ID": "DE*911E12345",
        "CONSUMED_ENERGY_KWH": "12.234",
        "SESSION_START": "2019-02-28T12:12:12.123Z",
        "SESSION_END": "2019-02-28T15:48:12.888Z",
        "GEO_POSITION_USER": "20.12366,21.23425",
        "GEO_POSITION_CHARGEPOINT": "20.12345,21.23445",
        "COUNTRY": "DE",
        "CITY": "Eschborn",
        "STREET": "Kölner Straße",
        "HOUSE_NUMBER": "",
    },
}
# charge_and_carbon_offset.md's sample request and answer (&Charge's public docs), verbatim; the answer's kilometers
# depend on the grid intensity table (README "CO2 offsets").
CO2_REQUEST_EXAMPLE = {
    "transactionId": "348324563873",
    "transactionReference": "partner-20190423-0011",
    "service": "CO2_OFFSET_CHARGING_SESSION",
    "serviceSpecificData": {
        "EVSE_ID": "DE*911E12345",
        "CPO_ID": "DE*911",
        "MAX_CHARGING_POWER": "22",
        "CONSUMED_ENERGY_KWH": "",
        "SESSION_START": "2019-02-28T12:12:12.123Z",
        "SESSION_END": "2019-02-28T15:48:12.888Z",
        "GEO_POSITION_USER": "20.12366,21.23425",
        "GEO_POSITION_CHARGEPOINT": "20.12345,21.23445",
        "COUNTRY": "DE",
        "CITY": "Eschborn",
        "STREET": "Kölner Straße",
        "HOUSE_NUMBER": "",
    },
}
CO2_TRANSACTION_EXAMPLE = {
    "transactionId": "348324563873",
    "partner": "MSP Partner",
    "kilometer": -3,
    "status": "CONFIRMED",
    "created": "2019-04-23T08:07:48.788+0000",
    "type": "CO2_OFFSET_CHARGING_SESSION",
    "address": "Kölner Straße, Eschborn",
}
# The docs show no donation sample: types.md's rules (kilometer required, serviceSpecificData may be empty).
DONATION_REQUEST_EXAMPLE = {
    "transactionId": "348324563874",
    "transactionReference": "partner-20190423-0012",
    "service": "DONATE_FOR_CO2_OFFSET",
    "kilometer": 10,
    "serviceSpecificData": {},
}
DONATION_TRANSACTION_EXAMPLE = {
    "transactionId": "348324563874",
    "partner": "MSP Partner",
    "kilometer": -10,
    "status": "CONFIRMED",
    "created": "2019-04-23T08:07:48.788+0000",
    "type": "CO2_DONATION",
    "address": "",
}
SEED_TRANSACTION_EXAMPLE = {
    "transactionId": "348328463873",
    "partner": "MSP Partner",
    "kilometer": -38,
    "status": "CONFIRMED",
    "created": "2019-04-23T08:07:48.788+0000",
    "type": "PAY_FOR_CHARGING_SESSION",
    "address": "Kölner Straße, Eschborn",
}


# Expects a Transaction annotated with `wallet_amount` (ledger.selectors); rendered by transaction_representation.
class TransactionSerializer(serializers.Serializer):
    """A kilometer transaction as the partner sees it; `kilometer` is signed from the user's view (a debit is < 0)."""

    transactionId = serializers.CharField(source="external_id")  # noqa: N815
    partner = serializers.CharField(source="partner.name")
    kilometer = serializers.IntegerField(source="wallet_amount")
    status = serializers.ChoiceField(choices=TransactionStatus.values, help_text="A reversed payment reads CANCELLED.")
    created = serializers.SerializerMethodField(help_text="UTC, milliseconds, +0000: 2019-04-23T08:07:48.788+0000")
    type = serializers.ChoiceField(
        choices=TRANSACTION_TYPES, source="kind", help_text="The service: a donation reads CO2_DONATION."
    )
    address = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "pattern": CREATED_PATTERN})
    def get_created(self, txn: Transaction) -> str:
        return format_created(txn.created_at)

    def get_address(self, txn: Transaction) -> str:
        return format_address(txn.service_data)

    def to_representation(self, instance):
        return transaction_representation(instance)


class AccountSummarySerializer(serializers.Serializer):
    userId = serializers.CharField()  # noqa: N815
    kmAvailable = serializers.IntegerField()  # noqa: N815
    kmPending = serializers.IntegerField()  # noqa: N815
    # The &Charge account summary's community fields: not part of this product, always 0 and USER.
    picturesPending = serializers.IntegerField()  # noqa: N815
    picturesAccepted = serializers.IntegerField()  # noqa: N815
    challengesSolved = serializers.IntegerField()  # noqa: N815
    role = serializers.ChoiceField(choices=["USER"])


# The summary's fields that do not depend on the account.
ACCOUNT_SUMMARY_CONSTANTS = {"picturesPending": 0, "picturesAccepted": 0, "challengesSolved": 0, "role": "USER"}


# --- The valid request's fast path ------------------------------------------------------------------------------
# Building and running TransactionRequestSerializer costs about as much CPU as the rest of a payment (DRF deep-copies
# every declared field per request). Partners send valid requests: this checks one with the very same fields'
# validators and rules, without building a serializer, and gives up (None) at the first doubt; the view then runs the
# serializer, which finds the exact error. So a refusal is always the serializer's; an acceptance yields the same
# validated data it would (tests/api/test_fast_validation.py compares both on generated bodies).


def _plan(serializer_class) -> list[tuple]:
    return [
        (name, field.required, field.allow_null, getattr(field, "allow_blank", False), tuple(field.validators))
        for name, field in serializer_class._declared_fields.items()
        if isinstance(field, StrictCharField)
    ]


_TOP_PLAN = _plan(TransactionRequestSerializer)
_SSD_PLAN = _plan(ServiceSpecificDataSerializer)
_SSD_KEYS = frozenset(name for name, *_ in _SSD_PLAN)
_VALIDATION_ERRORS = (serializers.ValidationError, DjangoValidationError)


def _valid_text(value, allow_blank: bool, validators: tuple) -> bool:
    if type(value) is not str:
        return False
    if value == "":
        return allow_blank  # DRF returns a blank value before running validators
    try:
        for validator in validators:
            validator(value)
    except _VALIDATION_ERRORS:
        return False
    return True


def transaction_request_fast(data) -> dict | None:
    """TransactionRequestSerializer's validated data for a valid request, or None (then run the serializer)."""
    if type(data) is not dict:
        return None
    validated_data = {}
    for name, required, allow_null, allow_blank, validators in _TOP_PLAN:
        if name not in data:
            if required:
                return None
            continue
        value = data[name]
        if value is None:
            if not allow_null:
                return None
        elif not _valid_text(value, allow_blank, validators):
            return None
        validated_data[name] = value
    if validated_data.get("service") not in FAST_PATH_SERVICES:
        return None
    kilometer = data.get("kilometer")
    if type(kilometer) is not int or not 1 <= kilometer <= settings.KM_MAX_PER_TRANSACTION:
        return None
    validated_data["kilometer"] = kilometer
    service_data = data.get("serviceSpecificData")
    if type(service_data) is not dict or not _SSD_KEYS.issuperset(service_data):
        return None
    cleaned = {}
    for name, required, allow_null, allow_blank, validators in _SSD_PLAN:
        if name not in service_data:
            if required:
                return None
            continue
        value = service_data[name]
        if value is None:
            if not allow_null:
                return None
            continue  # sent as null: not stored (ServiceSpecificDataSerializer.validate)
        if not _valid_text(value, allow_blank, validators):
            return None
        cleaned[name] = value
    if parse_session_time(cleaned["SESSION_END"]) < parse_session_time(cleaned["SESSION_START"]):
        return None
    validated_data["serviceSpecificData"] = cleaned
    # Same key order as the serializer (declaration order).
    return {name: validated_data[name] for name in TransactionRequestSerializer._declared_fields if name in validated_data}
