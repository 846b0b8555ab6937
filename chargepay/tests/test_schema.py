"""The OpenAPI schema documents every &Charge operation with its error bodies."""


def test_andcharge_schema_documents_operations_and_errors(client):
    response = client.get("/api/schema/andcharge/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    pay = schema["paths"]["/v1/partners/{partner_id}/accounts/{user_id}/transactions"]["post"]
    assert pay["operationId"] == "createTransaction"
    assert {"201", "400", "401", "403", "404", "409", "422", "429", "500"} <= set(pay["responses"])
    assert pay["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    error_ref = schema["components"]["schemas"]["Error"]["properties"]["error"]["$ref"].rsplit("/", 1)[1]
    assert "ACCOUNT_BALANCE_NOT_SUFFICIENT" in schema["components"]["schemas"][error_ref]["enum"]
    assert schema["components"]["securitySchemes"]["partnerAccessToken"]["scheme"] == "bearer"
    assert {"/public/v1/login/partner/token", "/public/v1/tokens"} <= set(schema["paths"])


def test_interactive_docs_page(client):
    response = client.get("/api/docs/andcharge/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_hop_schema_documents_charges_and_errors(client):
    response = client.get("/api/schema/hop/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    create = schema["paths"]["/api/v1/users/{user_id}/charges"]["post"]
    assert create["operationId"] == "createCharge"
    assert {"201", "202", "401", "406", "409", "422"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert "/api/v1/rfid/{session_token}/charges" in schema["paths"]
    assert "/api/v1/auth/token" in schema["paths"]
