"""The OpenAPI documents say what the server does: every operation with its errors, an example for every answer,
the headers, the security schemes; the interactive docs work offline."""

import pytest

from core import errors
from core.api.andcharge import ANDCHARGE_CODES


def schema_of(client, document: str) -> dict:
    response = client.get(f"/api/schema/{document}/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_andcharge_schema_documents_operations_and_errors(client):
    schema = schema_of(client, "andcharge")

    assert schema["info"]["title"] == "&Charge partner API (Charge&Pay, kilometers)"
    pay = schema["paths"]["/v1/partners/{partner_id}/accounts/{user_id}/transactions"]["post"]
    assert pay["operationId"] == "createTransaction"
    assert {"201", "400", "401", "403", "404", "405", "409", "413", "422", "429", "500"} == set(pay["responses"])
    assert pay["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"
    assert pay["responses"]["422"]["content"]["application/json"]["examples"]["AccountBalanceNotSufficient"]["value"] == {
        "error": "ACCOUNT_BALANCE_NOT_SUFFICIENT",
        "args": [15, 25],
    }
    assert schema["components"]["schemas"]["ErrorEnum"]["enum"] == [code.value for code in ANDCHARGE_CODES]
    assert errors.ErrorCode.STAFF_LIMIT_EXCEEDED not in schema["components"]["schemas"]["ErrorEnum"]["enum"]
    assert schema["components"]["schemas"]["TransactionStatusEnum"]["enum"] == ["OPEN", "CONFIRMED", "CANCELLED"]
    schemes = schema["components"]["securitySchemes"]
    assert schemes["partnerAccessToken"]["scheme"] == "bearer"
    assert schemes["partnerApiKey"]["scheme"] == "basic"
    assert schema["paths"]["/public/v1/login/partner/token"]["post"]["security"] == [{"partnerApiKey": []}]
    assert schema["paths"]["/public/v1/tokens"]["get"]["security"] == [{"partnerRefreshToken": []}]
    request = schema["components"]["schemas"]["TransactionRequest"]
    assert {key: request["properties"]["kilometer"][key] for key in ("type", "maximum", "minimum")} == {
        "type": "integer",
        "maximum": 100000,
        "minimum": 1,
    }
    assert "kilometer" not in request["required"]  # optional for CO2_OFFSET_CHARGING_SESSION
    assert schema["components"]["schemas"]["ServiceSpecificDataRequest"]["additionalProperties"] is False


def test_hop_schema_documents_charges_and_errors(client):
    schema = schema_of(client, "hop")

    assert schema["info"]["title"] == "HOP API (card top-ups, cents)"
    create = schema["paths"]["/api/v1/users/{user_id}/charges"]["post"]
    assert create["operationId"] == "createCharge"
    assert {"201", "202", "401", "404", "405", "406", "409", "413", "422", "429", "500", "503"} == set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert create["security"] == [{"hopServiceToken": []}]
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    assert schema["paths"]["/api/v1/auth/token"]["post"].get("security") in (None, [])
    assert "422" in schema["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert "409" not in schema["paths"]["/api/v1/users/{user_id}/transactions"]["get"]["responses"]
    components = schema["components"]["schemas"]
    assert "Data" not in components
    assert components["ChargeResponse"]["properties"]["data"]["$ref"] != components["HopError"]["properties"]["data"]["$ref"]
    amount = components["HopChargeFieldsRequest"]["properties"]["amount_in_cents"]
    assert [variant["type"] for variant in amount["oneOf"]] == ["integer", "string"]
    token = components["HopPaymentMethodRequest"]["properties"]["token"]
    assert [variant["type"] for variant in token["oneOf"]] == ["string", "integer"]
    assert "&Charge" not in schema["info"]["title"]


@pytest.mark.parametrize("document", ["andcharge", "hop"])
def test_every_answer_has_an_example_and_the_headers(client, document):
    schema = schema_of(client, document)

    for path, method, operation in operations(schema):
        assert operation.get("description"), (path, method)
        assert "405" in operation["responses"] and "500" in operation["responses"]
        for status, response in operation["responses"].items():
            assert "X-Request-Id" in response["headers"], (path, method, status)
            if status == "204":  # no body (an unlinked account)
                assert "content" not in response, (path, method, status)
                continue
            content = response["content"]["application/json"]
            assert content.get("examples"), (path, method, status)
            if status == "401":
                assert "WWW-Authenticate" in response["headers"]
            if status == "429":
                assert "Retry-After" in response["headers"]


@pytest.mark.parametrize("document", ["andcharge", "hop"])
def test_interactive_docs_are_served_from_the_project(client, document):
    response = client.get(f"/api/docs/{document}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    bundle = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
