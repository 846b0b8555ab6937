#!/usr/bin/env bash
# Prints working curl commands for the demo data that `manage.py seed_demo` loads.
BASE="http://${HOST:-127.0.0.1}:${PORT:-8000}"
# The HOP customer's id, from `seed_demo --json` saved by `make run`.
HOP_CUSTOMER=$(python3 -c 'import json; print(json.load(open(".demo.json"))["hopCustomer"]["id"])' 2>/dev/null || echo 2)
cat <<MSG

chargepay is starting on ${BASE}  (admin: ${BASE}/admin/  user admin / password admin)
API docs: ${BASE}/api/docs/andcharge/

# 1. &Charge partner login (HTTP Basic with the demo API key) -> accessToken, refreshToken, idToken
TOKEN=\$(curl -s -X POST -u AKDEMOPCS001KEY00000:demo-secret-do-not-use-in-production \\
  ${BASE}/public/v1/login/partner/token | python3 -c 'import sys,json; print(json.load(sys.stdin)["accessToken"])')

# 2. The seed's sample payment: 38 km from pcsUserId001 (100 km). Sending it again answers 409.
curl -s -X POST ${BASE}/v1/partners/PCS-001/accounts/pcsUserId001/transactions \\
  -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json' \\
  -d '{"transactionId":"348328463873","transactionReference":"partner-20190423-0011","service":"PAY_FOR_CHARGING_SESSION","kilometer":38,"serviceSpecificData":{"EVSE_ID":"DE*911E12345","CONSUMED_ENERGY_KWH":"12.234","SESSION_START":"2019-02-28T12:12:12.123Z","SESSION_END":"2019-02-28T15:48:12.888Z","GEO_POSITION_USER":"20.12366,21.23425","GEO_POSITION_CHARGEPOINT":"20.12345,21.23445","COUNTRY":"DE","CITY":"Eschborn","STREET":"Kölner Straße","HOUSE_NUMBER":""}}'

# 3. Balance and history
curl -s ${BASE}/v1/partners/PCS-001/accounts/pcsUserId001 -H "Authorization: Bearer \$TOKEN"
curl -s "${BASE}/v1/partners/PCS-001/accounts/pcsUserId001/transactions?page=0&limit=20" -H "Authorization: Bearer \$TOKEN"

# 3b. CO2: the doc's sample offset, paid by the partner itself (no user; billed in its monthly statement)
curl -s -X POST ${BASE}/v1/partners/PCS-001/transactions \\
  -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
  -d '{"transactionId":"348324563873","service":"CO2_OFFSET_CHARGING_SESSION","serviceSpecificData":{"EVSE_ID":"DE*911E12345","CPO_ID":"DE*911","MAX_CHARGING_POWER":"22","CONSUMED_ENERGY_KWH":"","SESSION_START":"2019-02-28T12:12:12.123Z","SESSION_END":"2019-02-28T15:48:12.888Z","GEO_POSITION_USER":"20.12366,21.23425","GEO_POSITION_CHARGEPOINT":"20.12345,21.23445","COUNTRY":"DE","CITY":"Eschborn","STREET":"Kölner Straße","HOUSE_NUMBER":""}}'
.venv/bin/python manage.py partner_statement --partner PCS-001 --month \$(date -u +%Y-%m)

# 4. HOP login (service account) -> jwt
JWT=\$(curl -s -X POST ${BASE}/api/v1/auth/token -H 'Content-Type: application/json' \\
  -d '{"auth":{"email":"hop.service@chargepay.example","password":"demo-hop-password-2026"}}' \\
  | python3 -c 'import sys,json; print(json.load(sys.stdin)["data"]["jwt"])')

# 5. The seed's sample charge: 500 cents on the card, credited to the HOP customer's cents balance
curl -s -X POST ${BASE}/api/v1/users/${HOP_CUSTOMER}/charges -H "Authorization: Bearer \$JWT" \\
  -H 'Content-Type: application/json' -H "Idempotency-Key: \$(date +%s%N)" \\
  -d '{"charge":{"amount_in_cents":"500","payment_method":{"token":12345,"expires_at":"2030-01-01"}}}'

# 6. The same by RFID with the card on record (the amount picks the sandbox's answer: 300 is declined, see README)
curl -s -X POST ${BASE}/api/v1/rfid/DEMO-RFID-0001/charges -H "Authorization: Bearer \$JWT" \\
  -H 'Content-Type: application/json' -d '{"charge":{"amount_in_cents":2500}}'

HOP docs: ${BASE}/api/docs/hop/
MSG
