"""Bodies that parse as Python but cannot be echoed back as JSON are INVALID_FORMAT, not a 500."""

import pytest

from ledger.tests.helpers import pay_url, wallet_of

INVALID_FORMAT = {"error": "INVALID_FORMAT", "args": ["request body is not valid JSON"]}


@pytest.mark.parametrize(
    "raw",
    [
        '{"kilometer": 1e400}',
        '{"transactionId": "x", "kilometer": -1e400}',
        "[1e400]",
        '{"kilometer": NaN}',
        '{"kilometer": Infinity}',
        '{"transactionId": "\\ud800"}',
        '{"\\udfff": 1}',
        '{"transactionId": "a"',
        "",
        "\xff\xfe",
    ],
)
def test_unechoable_or_broken_json_is_invalid_format(api, funded_link, raw):
    response = api.post(pay_url(), raw.encode("utf-8", "surrogatepass"), content_type="application/json")

    assert response.status_code == 400
    assert response.json() == INVALID_FORMAT
    assert wallet_of(funded_link.customer).balance == 100


def test_body_over_64_kib_is_refused(api, funded_link, seed_request):
    seed_request["padding"] = "x" * 70_000

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 413
    assert response.json() == {"error": "PAYLOAD_TOO_LARGE", "args": [65536]}
    assert wallet_of(funded_link.customer).balance == 100
