"""Contract tests of the &Charge payment endpoint and its read endpoints (DESIGN §3.2, §3.3, §3.4).

Every field rule of the TransactionRequest, the exact error body of each refusal, the order of checks,
and that a refused request leaves the ledger untouched.
"""

import json

import pytest

from accounts.models import User
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from ledger import services
from ledger.models import Transaction
from ledger.tests.helpers import grant, pay_url, wallet_of

PAY = "PAY_FOR_CHARGING_SESSION"
SUMMARY_CONSTANTS = {"picturesPending": 0, "picturesAccepted": 0, "challengesSolved": 0, "role": "USER"}
SSD = "serviceSpecificData"
REQUIRED_KEYS = [
    "EVSE_ID",
    "CONSUMED_ENERGY_KWH",
    "SESSION_START",
    "SESSION_END",
    "GEO_POSITION_CHARGEPOINT",
    "COUNTRY",
    "CITY",
    "STREET",
    "HOUSE_NUMBER",
]
OPTIONAL_KEYS = ["GEO_POSITION_USER", "CPO_ID", "MAX_CHARGING_POWER"]
ALL_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS


# --- helpers ----------------------------------------------------------------------------------
def post(api, body, user_id="pcsUserId001"):
    return api.post(pay_url(user_id=user_id), body, format="json")


def pay_count() -> int:
    return Transaction.objects.filter(kind=PAY).count()


def assert_nothing_changed(customer) -> None:
    assert wallet_of(customer).balance == 100
    assert pay_count() == 0


def assert_refused(response, status: int, error: str, args: list, customer) -> None:
    body = response.json()
    assert response.status_code == status, body
    assert body == {"error": error, "args": args}
    # Type-exact: 38.0 is not 38 and true is not 1 (Python's == would say they are).
    assert json.dumps(body["args"]) == json.dumps(args)
    assert response["X-Request-Id"]
    assert_nothing_changed(customer)


def assert_paid(response, customer, km: int = 38) -> dict:
    body = response.json()
    assert response.status_code == 201, body
    assert wallet_of(customer).balance == 100 - km
    assert pay_count() == 1
    return body


# --- top-level fields -------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["transactionId", "service", "kilometer", SSD])
def test_required_field_missing(api, funded_link, seed_request, field):
    del seed_request[field]

    response = post(api, seed_request)

    assert_refused(response, 400, "MANDATORY_PARAMETER_NOT_SET", [field], funded_link.customer)


@pytest.mark.parametrize("field", ["transactionId", "service", "kilometer", SSD])
def test_required_field_null(api, funded_link, seed_request, field):
    seed_request[field] = None

    response = post(api, seed_request)

    assert_refused(response, 400, "MANDATORY_PARAMETER_NOT_SET", [field], funded_link.customer)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transactionId", 348328463873),
        ("transactionId", 1.5),
        ("transactionId", True),
        ("transactionId", False),
        ("transactionId", ["348328463873"]),
        ("transactionId", {"id": "348328463873"}),
        ("transactionReference", 11),
        ("transactionReference", True),
        ("transactionReference", ["partner-20190423-0011"]),
        ("transactionReference", {"ref": "x"}),
        ("service", 1),
        ("service", True),
        ("service", [PAY]),
        ("service", {"name": PAY}),
        ("kilometer", "38"),
        ("kilometer", ""),
        ("kilometer", 38.0),
        ("kilometer", 38.5),
        ("kilometer", True),
        ("kilometer", False),
        ("kilometer", [38]),
        ("kilometer", {"km": 38}),
    ],
)
def test_field_of_wrong_json_type(api, funded_link, seed_request, field, value):
    seed_request[field] = value

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [value, field], funded_link.customer)


@pytest.mark.parametrize("field", ["transactionId", "transactionReference", "service"])
def test_string_field_too_long(api, funded_link, seed_request, field):
    seed_request[field] = "x" * 101

    response = post(api, seed_request)

    assert_refused(response, 400, "PARAMETER_MAX_LENGTH", [field, 100], funded_link.customer)


@pytest.mark.parametrize("field", ["transactionId", "service"])
def test_required_string_empty(api, funded_link, seed_request, field):
    seed_request[field] = ""

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", ["", field], funded_link.customer)


def test_transaction_id_with_a_nul_character_is_refused(api, funded_link, seed_request):
    seed_request["transactionId"] = "3483\x0028463873"

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", ["3483\x0028463873", "transactionId"], funded_link.customer)


@pytest.mark.parametrize(
    ("transaction_id", "reference"),
    [("7" * 100, "r" * 100), ("ö" * 100, "ß" * 100), ("1", "x")],
    ids=["ascii-100", "non-ascii-100", "one-char"],
)
def test_strings_up_to_100_characters_are_accepted(api, funded_link, seed_request, transaction_id, reference):
    seed_request["transactionId"] = transaction_id
    seed_request["transactionReference"] = reference

    body = assert_paid(post(api, seed_request), funded_link.customer)

    assert body["transactionId"] == transaction_id
    txn = Transaction.objects.get(kind=PAY)
    assert (txn.external_id, txn.reference) == (transaction_id, reference)


@pytest.mark.parametrize("km", [0, -1, -5, 100_001, 2**31, 2**63, 10**30, -(10**30)])
def test_kilometer_out_of_range(api, funded_link, seed_request, km):
    seed_request["kilometer"] = km

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [km, "kilometer"], funded_link.customer)


def test_kilometer_above_the_configured_maximum(api, funded_link, seed_request, settings):
    settings.KM_MAX_PER_TRANSACTION = 50
    seed_request["kilometer"] = 51

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [51, "kilometer"], funded_link.customer)


def test_kilometer_at_the_configured_maximum_is_accepted(api, funded_link, seed_request, settings):
    settings.KM_MAX_PER_TRANSACTION = 50
    seed_request["kilometer"] = 50

    body = assert_paid(post(api, seed_request), funded_link.customer, km=50)

    assert body["kilometer"] == -50


@pytest.mark.parametrize("km", [1, 100])
def test_kilometer_boundaries_accepted(api, funded_link, seed_request, km):
    seed_request["kilometer"] = km

    body = assert_paid(post(api, seed_request), funded_link.customer, km=km)

    assert body["kilometer"] == -km


@pytest.mark.parametrize("service", ["UNKNOWN_SERVICE", "pay_for_charging_session", f"{PAY} ", "CO2_DONATION"])
def test_service_not_supported(api, funded_link, seed_request, service):
    seed_request["service"] = service

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [service, "service"], funded_link.customer)


@pytest.mark.parametrize("variant", ["absent", "null", "empty"])
def test_transaction_reference_is_optional(api, funded_link, seed_request, variant):
    if variant == "absent":
        del seed_request["transactionReference"]
    else:
        seed_request["transactionReference"] = None if variant == "null" else ""

    assert_paid(post(api, seed_request), funded_link.customer)

    assert Transaction.objects.get(kind=PAY).reference == ""


def test_transaction_reference_is_stored(api, funded_link, seed_request):
    assert_paid(post(api, seed_request), funded_link.customer)

    assert Transaction.objects.get(kind=PAY).reference == "partner-20190423-0011"


# --- serviceSpecificData: the object ----------------------------------------------------------
@pytest.mark.parametrize("value", ["DE*911E12345", "", 1, 1.5, True, [], [{"EVSE_ID": "DE*911E12345"}]])
def test_service_specific_data_not_an_object(api, funded_link, seed_request, value):
    seed_request[SSD] = value

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [value, SSD], funded_link.customer)


def test_service_specific_data_empty_object(api, funded_link, seed_request):
    seed_request[SSD] = {}

    response = post(api, seed_request)

    assert_refused(response, 400, "MANDATORY_PARAMETER_NOT_SET", [f"{SSD}.EVSE_ID"], funded_link.customer)


# --- serviceSpecificData: every key -----------------------------------------------------------
@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_required_key_missing(api, funded_link, seed_request, key):
    del seed_request[SSD][key]

    response = post(api, seed_request)

    assert_refused(response, 400, "MANDATORY_PARAMETER_NOT_SET", [f"{SSD}.{key}"], funded_link.customer)


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_required_key_null(api, funded_link, seed_request, key):
    seed_request[SSD][key] = None

    response = post(api, seed_request)

    assert_refused(response, 400, "MANDATORY_PARAMETER_NOT_SET", [f"{SSD}.{key}"], funded_link.customer)


@pytest.mark.parametrize("variant", ["absent", "null"])
@pytest.mark.parametrize("key", OPTIONAL_KEYS)
def test_optional_key_absent_or_null_is_accepted(api, funded_link, seed_request, key, variant):
    if variant == "absent":
        seed_request[SSD].pop(key, None)
    else:
        seed_request[SSD][key] = None

    assert_paid(post(api, seed_request), funded_link.customer)

    assert Transaction.objects.get(kind=PAY).service_data.get(key) is None


@pytest.mark.parametrize("value", [12, 12.5, 0, True, ["12"], {"value": "12"}])
@pytest.mark.parametrize("key", ALL_KEYS)
def test_key_with_a_non_string_value(api, funded_link, seed_request, key, value):
    seed_request[SSD][key] = value

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [value, f"{SSD}.{key}"], funded_link.customer)


@pytest.mark.parametrize("key", ALL_KEYS)
def test_key_value_too_long(api, funded_link, seed_request, key):
    seed_request[SSD][key] = "1" * 101

    response = post(api, seed_request)

    assert_refused(response, 400, "PARAMETER_MAX_LENGTH", [f"{SSD}.{key}", 100], funded_link.customer)


@pytest.mark.parametrize("key", ["CITY", "STREET", "HOUSE_NUMBER", "CPO_ID"])
def test_free_text_key_up_to_100_characters_is_accepted(api, funded_link, seed_request, key):
    seed_request[SSD][key] = "ä" * 100

    assert_paid(post(api, seed_request), funded_link.customer)

    assert Transaction.objects.get(kind=PAY).service_data[key] == "ä" * 100


@pytest.mark.parametrize("key", ["CONSUMED_ENERGY_KWH", "CITY", "STREET", "HOUSE_NUMBER"])
def test_key_that_may_be_empty(api, funded_link, seed_request, key):
    seed_request[SSD][key] = ""

    assert_paid(post(api, seed_request), funded_link.customer)

    assert Transaction.objects.get(kind=PAY).service_data[key] == ""


INVALID_FORMATS = [
    # EVSE_ID: matches neither branch of the public regex (DESIGN §3.2), read as a full match
    ("EVSE_ID", ""),
    ("EVSE_ID", "DE*911*12345"),  # no E before the id
    ("EVSE_ID", "DE*911e12345"),  # the E is upper-case only
    ("EVSE_ID", "D*911E12345"),  # one-letter country
    ("EVSE_ID", "DE*91E12345"),  # two-character operator
    ("EVSE_ID", "DE*911E"),  # empty id after E
    ("EVSE_ID", "DE*911E" + "1" * 31),  # 31 characters after E
    ("EVSE_ID", "DE-911-E12345"),
    ("EVSE_ID", "DE*911E1234-5"),
    ("EVSE_ID", " DE*911E12345"),
    ("EVSE_ID", "DE*911E12345\n"),  # `$` must not let a trailing newline through
    ("EVSE_ID", "+49*81*000438"),  # two-digit operator
    ("EVSE_ID", "+4912*810*000"),  # four-digit country code
    ("EVSE_ID", "49810000438"),  # no separators
    ("EVSE_ID", "+49*810*"),  # empty id
    ("EVSE_ID", "+49*810*" + "1" * 33),  # 33 characters of id
    # CONSUMED_ENERGY_KWH: a decimal string >= 0
    ("CONSUMED_ENERGY_KWH", "-1"),
    ("CONSUMED_ENERGY_KWH", "-0.5"),
    ("CONSUMED_ENERGY_KWH", "abc"),
    ("CONSUMED_ENERGY_KWH", "12,5"),
    ("CONSUMED_ENERGY_KWH", "1.2.3"),
    ("CONSUMED_ENERGY_KWH", "NaN"),
    ("CONSUMED_ENERGY_KWH", "12.5\n"),
    # SESSION_START / SESSION_END: yyyy-MM-dd'T'HH:mm:ss.SSSZ
    ("SESSION_START", ""),
    ("SESSION_START", "2019-02-28T12:12:12Z"),  # no milliseconds
    ("SESSION_START", "2019-02-28 12:12:12.123Z"),
    ("SESSION_START", "2019-02-28T12:12:12.123"),  # no zone
    ("SESSION_START", "2019-02-28T12:12:12.123+00:00"),
    ("SESSION_START", "2019-13-28T12:12:12.123Z"),  # month 13
    ("SESSION_START", "2019-02-30T12:12:12.123Z"),  # 30 February
    ("SESSION_START", "2019-02-28T24:12:12.123Z"),
    ("SESSION_START", "28.02.2019 12:12"),
    ("SESSION_START", "1551355932123"),
    ("SESSION_END", ""),
    ("SESSION_END", "2019-02-28T15:48:12Z"),
    ("SESSION_END", "2019-02-28T15:48:12.888"),
    ("SESSION_END", "2019-02-28T15:48:12.888+00:00"),
    ("SESSION_END", "2019-02-28T15:48:12.888Z\n"),
    ("SESSION_END", "yesterday"),
    # GEO_POSITION_CHARGEPOINT / GEO_POSITION_USER: "lat,lon" in range
    ("GEO_POSITION_CHARGEPOINT", ""),
    ("GEO_POSITION_CHARGEPOINT", "91,0"),
    ("GEO_POSITION_CHARGEPOINT", "-90.0001,0"),
    ("GEO_POSITION_CHARGEPOINT", "0,181"),
    ("GEO_POSITION_CHARGEPOINT", "0,-180.5"),
    ("GEO_POSITION_CHARGEPOINT", "20.12345"),
    ("GEO_POSITION_CHARGEPOINT", "20.12345;21.23445"),
    ("GEO_POSITION_CHARGEPOINT", "20.12345,21.23445,3"),
    ("GEO_POSITION_CHARGEPOINT", "north,east"),
    ("GEO_POSITION_CHARGEPOINT", "20.12345,21.23445\n"),
    ("GEO_POSITION_USER", "95.1,21.2"),
    ("GEO_POSITION_USER", "20.1,200"),
    ("GEO_POSITION_USER", "20.1"),
    ("GEO_POSITION_USER", "a,b"),
    ("GEO_POSITION_USER", "20.12366,21.23425\n"),
    # COUNTRY: ISO 3166 alpha-2 or alpha-3
    ("COUNTRY", ""),
    ("COUNTRY", "XX"),
    ("COUNTRY", "de"),
    ("COUNTRY", "deu"),
    ("COUNTRY", "GERMANY"),
    ("COUNTRY", "D"),
    ("COUNTRY", "DEUT"),
]


@pytest.mark.parametrize(("key", "value"), INVALID_FORMATS)
def test_key_with_a_bad_format(api, funded_link, seed_request, key, value):
    seed_request[SSD][key] = value

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [value, f"{SSD}.{key}"], funded_link.customer)


VALID_FORMATS = [
    ("EVSE_ID", "DE*911E12345"),
    ("EVSE_ID", "DE911E12345"),
    ("EVSE_ID", "DE*ICE*E000001*1"),
    ("EVSE_ID", "de*abcE1"),
    ("EVSE_ID", "DE*911E" + "1" * 30),
    ("EVSE_ID", "+49*810*000*438"),
    ("EVSE_ID", "49*810*000438"),
    ("EVSE_ID", "1*234*5"),
    ("EVSE_ID", "+123*456*" + "7" * 32),
    ("CONSUMED_ENERGY_KWH", "0"),
    ("CONSUMED_ENERGY_KWH", "12"),
    ("CONSUMED_ENERGY_KWH", "0.5"),
    ("CONSUMED_ENERGY_KWH", "12.234"),
    ("SESSION_START", "2019-02-28T12:12:12.123+0000"),
    ("SESSION_START", "2019-02-28T12:12:12.123Z"),
    ("SESSION_END", "2019-02-28T15:48:12.888+0000"),
    ("SESSION_END", "2019-02-28T15:48:12.888Z"),
    ("GEO_POSITION_CHARGEPOINT", "90,180"),
    ("GEO_POSITION_CHARGEPOINT", "-90,-180"),
    ("GEO_POSITION_CHARGEPOINT", "0,0"),
    ("GEO_POSITION_CHARGEPOINT", "48.1351253,11.5819806"),
    ("GEO_POSITION_USER", "-33.8688,151.2093"),
    ("GEO_POSITION_USER", "90,-180"),
    ("COUNTRY", "DE"),
    ("COUNTRY", "DEU"),
    ("COUNTRY", "FR"),
    ("COUNTRY", "FRA"),
    ("COUNTRY", "US"),
    ("COUNTRY", "USA"),
    ("CPO_ID", "DE*911"),
    ("MAX_CHARGING_POWER", "22"),
    ("MAX_CHARGING_POWER", "150.5"),
]


@pytest.mark.parametrize(("key", "value"), VALID_FORMATS)
def test_key_with_a_good_format_is_accepted(api, funded_link, seed_request, key, value):
    seed_request[SSD][key] = value

    assert_paid(post(api, seed_request), funded_link.customer)

    assert Transaction.objects.get(kind=PAY).service_data[key] == value


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2019-02-28T12:12:12.123Z", "2019-02-28T12:12:12.122Z"),
        ("2019-02-28T12:12:12.123Z", "2019-02-27T15:48:12.888Z"),
        ("2019-02-28T12:12:12.123+0000", "2019-02-28T12:12:12.000+0000"),
        ("2019-02-28T12:12:12.123Z", "2018-02-28T12:12:12.123+0000"),
    ],
)
def test_session_end_before_start(api, funded_link, seed_request, start, end):
    seed_request[SSD]["SESSION_START"] = start
    seed_request[SSD]["SESSION_END"] = end

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [end, f"{SSD}.SESSION_END"], funded_link.customer)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2019-02-28T12:12:12.123Z", "2019-02-28T12:12:12.123Z"),
        ("2019-02-28T12:12:12.123Z", "2019-02-28T12:12:12.123+0000"),
        ("2019-02-28T12:12:12.123+0000", "2019-02-28T15:48:12.888Z"),
    ],
)
def test_session_end_at_or_after_start_is_accepted(api, funded_link, seed_request, start, end):
    seed_request[SSD]["SESSION_START"] = start
    seed_request[SSD]["SESSION_END"] = end

    assert_paid(post(api, seed_request), funded_link.customer)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("FOO", "bar"),
        ("FOO", ""),
        ("FOO", 1),
        ("FOO", None),
        ("evse_id", "DE*911E12345"),
        ("EVSE_ID ", "DE*911E12345"),
        ("non_field_errors", "x"),
    ],
)
def test_unknown_key_is_refused(api, funded_link, seed_request, key, value):
    seed_request[SSD][key] = value

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", [value, f"{SSD}.{key}"], funded_link.customer)


def test_cpo_id_and_max_charging_power_are_stored(api, funded_link, seed_request):
    seed_request[SSD]["CPO_ID"] = "DE*911"
    seed_request[SSD]["MAX_CHARGING_POWER"] = "22"

    assert_paid(post(api, seed_request), funded_link.customer)

    txn = Transaction.objects.get(kind=PAY)
    assert txn.service_data == seed_request[SSD]
    assert txn.service_data["CPO_ID"] == "DE*911"
    assert txn.service_data["MAX_CHARGING_POWER"] == "22"
    assert txn.evse_id == "DE*911E12345"


def test_a_nul_character_in_a_value_is_refused(api, funded_link, seed_request):
    seed_request[SSD]["CITY"] = "Esch\x00born"

    response = post(api, seed_request)

    assert_refused(response, 400, "INVALID_PARAMETER", ["Esch\x00born", f"{SSD}.CITY"], funded_link.customer)


# --- the body itself --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param("{", "application/json", id="truncated"),
        pytest.param("not json", "application/json", id="text"),
        pytest.param("{'transactionId': '1'}", "application/json", id="single-quotes"),
        pytest.param('{"kilometer": NaN}', "application/json", id="nan"),
        pytest.param(b"\xff\xfe\x00", "application/json", id="not-utf8"),
        pytest.param("[]", "application/json", id="empty-array"),
        pytest.param('[{"transactionId": "1"}]', "application/json", id="array"),
        pytest.param('"PAY_FOR_CHARGING_SESSION"', "application/json", id="string"),
        pytest.param("42", "application/json", id="number"),
        pytest.param("null", "application/json", id="null"),
        pytest.param("true", "application/json", id="true"),
        pytest.param("", "application/json", id="empty-body"),
        pytest.param(json.dumps({"transactionId": "1"}), "text/plain", id="text-plain"),
        pytest.param("transactionId=1&kilometer=38", "application/x-www-form-urlencoded", id="form"),
        pytest.param("<transactionId>1</transactionId>", "application/xml", id="xml"),
    ],
)
def test_body_that_is_not_a_json_object(api, funded_link, raw, content_type):
    response = api.post(pay_url(), data=raw, content_type=content_type)

    body = response.json()
    assert response.status_code == 400, body
    assert list(body) == ["error", "args"]
    assert body["error"] == "INVALID_FORMAT"
    assert len(body["args"]) == 1
    assert isinstance(body["args"][0], str)
    assert body["args"][0]
    assert response["X-Request-Id"]
    assert_nothing_changed(funded_link.customer)


def test_multipart_body_is_refused(api, funded_link, seed_request):
    del seed_request[SSD]

    response = api.post(pay_url(), seed_request, format="multipart")

    body = response.json()
    assert response.status_code == 400, body
    assert body["error"] == "INVALID_FORMAT"
    assert len(body["args"]) == 1
    assert_nothing_changed(funded_link.customer)


def test_json_with_a_charset_is_accepted(api, funded_link, seed_request):
    response = api.post(pay_url(), data=json.dumps(seed_request).encode(), content_type="application/json; charset=utf-8")

    assert_paid(response, funded_link.customer)


# --- the address ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("street", "number", "city", "address"),
    [
        ("", "", "", ""),
        ("", "", "Eschborn", "Eschborn"),
        ("Kölner Straße", "", "", "Kölner Straße"),
        ("", "12a", "", "12a"),
        ("Kölner Straße", "12a", "", "Kölner Straße 12a"),
        ("Kölner Straße", "", "Eschborn", "Kölner Straße, Eschborn"),
        ("", "12a", "Eschborn", "12a, Eschborn"),
        ("Kölner Straße", "12a", "Eschborn", "Kölner Straße 12a, Eschborn"),
    ],
)
def test_address_formatting(api, funded_link, seed_request, street, number, city, address):
    seed_request[SSD].update(STREET=street, HOUSE_NUMBER=number, CITY=city)

    body = assert_paid(post(api, seed_request), funded_link.customer)

    assert body["address"] == address
    detail = api.get(f"{pay_url()}/{seed_request['transactionId']}")
    assert detail.status_code == 200
    assert detail.json()["address"] == address


# --- order of checks: auth → partner scope → body → already processed → user link → balance ----
@pytest.mark.parametrize(
    ("change", "error", "args"),
    [
        ({"kilometer": -5}, "INVALID_PARAMETER", [-5, "kilometer"]),
        ({SSD: None}, "MANDATORY_PARAMETER_NOT_SET", [SSD]),
        ({"service": "PLANT_A_TREE"}, "INVALID_PARAMETER", ["PLANT_A_TREE", "service"]),
    ],
)
def test_bad_body_on_an_unknown_user_is_400_not_404(api, funded_link, seed_request, change, error, args):
    seed_request.update(change)

    response = post(api, seed_request, user_id="msp_001-unknown")

    assert_refused(response, 400, error, args, funded_link.customer)


def test_not_json_on_an_unknown_user_is_400_not_404(api, funded_link):
    response = api.post(pay_url(user_id="msp_001-unknown"), data="{", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_FORMAT"
    assert_nothing_changed(funded_link.customer)


def test_already_processed_on_an_unknown_user_is_409(api, funded_link, seed_request):
    assert post(api, seed_request).status_code == 201

    response = post(api, seed_request, user_id="msp_001-unknown")

    assert response.status_code == 409
    assert response.json() == {"error": "TRANSACTION_ALREADY_PROCESSED", "args": ["348328463873"]}
    assert wallet_of(funded_link.customer).balance == 62
    assert pay_count() == 1


def test_already_processed_whatever_its_payload_and_before_the_balance(api, funded_link, seed_request):
    assert post(api, seed_request).status_code == 201
    seed_request["kilometer"] = 1000  # more than the 62 left
    seed_request["transactionReference"] = "another"
    seed_request[SSD]["EVSE_ID"] = "+49*810*000*438"

    response = post(api, seed_request)

    assert response.status_code == 409
    assert response.json() == {"error": "TRANSACTION_ALREADY_PROCESSED", "args": ["348328463873"]}
    assert wallet_of(funded_link.customer).balance == 62
    assert pay_count() == 1


def test_the_same_transaction_id_at_another_partner_is_not_a_duplicate(api, funded_link, other_partner, seed_request):
    PartnerLinkFactory(partner=other_partner, customer=funded_link.customer, external_user_id="pcsUserId001")
    services.charging_session_pay(
        partner_code=other_partner.code,
        access_key_id=None,
        external_user_id="pcsUserId001",
        external_id="348328463873",
        kilometer=10,
        service_data=seed_request[SSD],
    )

    response = post(api, seed_request)

    assert response.status_code == 201, response.json()
    assert wallet_of(funded_link.customer).balance == 52


def test_a_refused_request_does_not_consume_the_transaction_id(api, funded_link, seed_request):
    seed_request["kilometer"] = -5
    assert post(api, seed_request).status_code == 400
    seed_request["kilometer"] = 38

    assert_paid(post(api, seed_request), funded_link.customer)


def test_unconfirmed_link_is_not_found(api, funded_link, partner, seed_request):
    pending = PartnerLinkFactory(partner=partner, customer=CustomerFactory(), external_user_id="pcsUserPending", confirmed=False)
    grant(pending.customer, 100)

    response = post(api, seed_request, user_id="pcsUserPending")

    assert_refused(response, 404, "REFERENCED_OBJECT_NOT_FOUND", ["user", "pcsUserPending"], funded_link.customer)
    assert wallet_of(pending.customer).balance == 100


def test_unknown_user_is_checked_before_the_balance(api, funded_link, seed_request):
    seed_request["kilometer"] = 1000

    response = post(api, seed_request, user_id="msp_001-unknown")

    assert_refused(response, 404, "REFERENCED_OBJECT_NOT_FOUND", ["user", "msp_001-unknown"], funded_link.customer)


def test_user_id_too_long(api, funded_link, seed_request):
    response = post(api, seed_request, user_id="u" * 101)

    assert_refused(response, 400, "PARAMETER_MAX_LENGTH", ["userId", 100], funded_link.customer)


def test_user_id_of_100_characters_is_looked_up(api, funded_link, seed_request):
    response = post(api, seed_request, user_id="u" * 100)

    assert_refused(response, 404, "REFERENCED_OBJECT_NOT_FOUND", ["user", "u" * 100], funded_link.customer)


# --- GET account ------------------------------------------------------------------------------
def test_get_account(api, funded_link, seed_request):
    response = api.get("/v1/partners/PCS-001/accounts/pcsUserId001")

    assert response.status_code == 200
    assert response.json() == {"userId": "pcsUserId001", "kmAvailable": 100, "kmPending": 0, **SUMMARY_CONSTANTS}

    assert post(api, seed_request).status_code == 201
    response = api.get("/v1/partners/PCS-001/accounts/pcsUserId001")

    assert response.json() == {"userId": "pcsUserId001", "kmAvailable": 62, "kmPending": 0, **SUMMARY_CONSTANTS}


@pytest.mark.parametrize("user_id", ["msp_001-unknown", "pcsUserPending"])
def test_get_account_of_an_unknown_or_unconfirmed_user(api, funded_link, partner, user_id):
    PartnerLinkFactory(partner=partner, customer=CustomerFactory(), external_user_id="pcsUserPending", confirmed=False)

    response = api.get(f"/v1/partners/PCS-001/accounts/{user_id}")

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", user_id]}


# --- GET transactions -------------------------------------------------------------------------
def pay_several(api, seed_request, ids, km=1):
    bodies = []
    for transaction_id in ids:
        seed_request["transactionId"] = transaction_id
        seed_request["kilometer"] = km
        response = post(api, seed_request)
        assert response.status_code == 201, response.json()
        bodies.append(response.json())
    return bodies


def test_list_transactions_newest_first_and_paginated(api, funded_link, seed_request):
    bodies = pay_several(api, seed_request, ["T-1", "T-2", "T-3"])
    newest_first = list(reversed(bodies))

    default = api.get(pay_url())
    first = api.get(pay_url(), {"page": 0, "limit": 2})
    second = api.get(pay_url(), {"page": 1, "limit": 2})
    third = api.get(pay_url(), {"page": 2, "limit": 2})

    assert [r.status_code for r in (default, first, second, third)] == [200, 200, 200, 200]
    assert default.json() == newest_first
    assert first.json() == newest_first[:2]
    assert second.json() == newest_first[2:]
    assert third.json() == []


def test_list_transactions_default_page_size_is_20(api, funded_link, seed_request):
    pay_several(api, seed_request, [f"T-{n:02d}" for n in range(21)])

    response = api.get(pay_url())

    assert response.status_code == 200
    assert [t["transactionId"] for t in response.json()] == [f"T-{n:02d}" for n in range(20, 0, -1)]
    assert [t["transactionId"] for t in api.get(pay_url(), {"page": 1}).json()] == ["T-00"]


def test_list_transactions_shows_this_partners_payments_only(api, funded_link, other_partner, seed_request):
    PartnerLinkFactory(partner=other_partner, customer=funded_link.customer, external_user_id="otherUser")
    services.charging_session_pay(
        partner_code=other_partner.code,
        access_key_id=None,
        external_user_id="otherUser",
        external_id="OTHER-1",
        kilometer=5,
        service_data=seed_request[SSD],
    )
    mine = pay_several(api, seed_request, ["MINE-1"], km=38)

    response = api.get(pay_url())

    assert response.status_code == 200
    assert response.json() == mine  # neither the other partner's payment nor the grant


@pytest.mark.parametrize(
    ("param", "raw"),
    [
        ("page", "-1"),
        ("page", "abc"),
        ("page", "1.5"),
        ("page", ""),
        ("page", "١"),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "abc"),
        ("limit", ""),
        ("limit", "101"),
    ],
)
def test_list_transactions_bad_page_or_limit(api, funded_link, param, raw):
    response = api.get(pay_url(), {param: raw})

    assert response.status_code == 400
    assert response.json() == {"error": "INVALID_PARAMETER", "args": [raw, param]}


def test_list_transactions_of_an_unknown_user(api, funded_link):
    response = api.get(pay_url(user_id="msp_001-unknown"))

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "msp_001-unknown"]}


# --- GET one transaction ----------------------------------------------------------------------
def test_get_transaction(api, funded_link, seed_request):
    created = post(api, seed_request).json()

    response = api.get(f"{pay_url()}/348328463873")

    assert response.status_code == 200
    assert response.json() == created


def test_get_unknown_transaction(api, funded_link):
    response = api.get(f"{pay_url()}/nope-42")

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["transaction", "nope-42"]}


def test_get_transaction_of_another_customer_of_the_same_partner(api, funded_link, partner, seed_request):
    other = PartnerLinkFactory(partner=partner, customer=CustomerFactory(), external_user_id="pcsUserId002")
    grant(other.customer, 50)
    seed_request["transactionId"] = "T-OF-002"
    assert post(api, seed_request, user_id="pcsUserId002").status_code == 201

    response = api.get(f"{pay_url()}/T-OF-002")

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["transaction", "T-OF-002"]}
    assert api.get(f"{pay_url(user_id='pcsUserId002')}/T-OF-002").status_code == 200


def test_get_transaction_of_another_partner(api, funded_link, other_partner, seed_request):
    PartnerLinkFactory(partner=other_partner, customer=funded_link.customer, external_user_id="pcsUserId001")
    services.charging_session_pay(
        partner_code=other_partner.code,
        access_key_id=None,
        external_user_id="pcsUserId001",
        external_id="OTHER-1",
        kilometer=5,
        service_data=seed_request[SSD],
    )

    response = api.get(f"{pay_url()}/OTHER-1")

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["transaction", "OTHER-1"]}


def test_reversed_transaction_reads_cancelled(api, funded_link, seed_request):
    created = post(api, seed_request).json()
    staff = User.objects.create_user(username="agent", is_staff=True)
    services.transaction_reverse(transaction_id=Transaction.objects.get(kind=PAY).pk, reversed_by=staff, reason="charger fault")

    detail = api.get(f"{pay_url()}/348328463873")
    listing = api.get(pay_url())

    assert detail.status_code == 200
    assert detail.json() == {**created, "status": "CANCELLED"}
    assert listing.json() == [{**created, "status": "CANCELLED"}]
    assert wallet_of(funded_link.customer).balance == 100
