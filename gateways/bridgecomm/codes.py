"""BridgeComm response codes and gateway messages (DESIGN Appendix A), shared by the client and the sandbox."""

SUCCESS = "00000"
PARTIAL_AUTHORIZATION = "00001"
INVALID_REQUEST = "10001"  # sandbox's choice for a malformed request (missing field, unknown RequestType)
INVALID_CLIENT_IDENTIFIER = "10020"
INVALID_CREDENTIALS = "10024"
ZERO_AMOUNT = "10027"
INVALID_AMOUNT = "10028"
PROCESSING_NETWORK_ERROR = "10052"
INTERNAL_SERVER_ERROR = "20002"
SERVICE_UNAVAILABLE = "20003"
NETWORK_UNAVAILABLE = "30022"
INVALID_ACCOUNT_NUMBER = "30023"
INVALID_SECURITY_CODE = "30025"
TRANSACTION_ERROR = "30029"
DENIED = "30032"
INSUFFICIENT_FUNDS = "30033"
PICK_UP_CARD = "30034"
DUPLICATE_TRANSACTION = "30036"
LOST_CARD = "30037"
CALL_FOR_AUTHORIZATION = "30072"
GATEWAY_UNAVAILABLE = "80001"
UNKNOWN_ERROR = "99999"

# ResponseDescription, as BridgePay's test server recorded it (DESIGN §5): the text partners see in `errors.charge`.
DESCRIPTIONS: dict[str, str] = {
    SUCCESS: "Successful Request",
    PARTIAL_AUTHORIZATION: "Partial Authorization",
    INVALID_REQUEST: "Invalid Request",
    INVALID_CLIENT_IDENTIFIER: "Invalid Client Identifier",
    INVALID_CREDENTIALS: "Invalid Credentials",
    ZERO_AMOUNT: "Amount must be greater than zero",
    INVALID_AMOUNT: "Invalid Amount",
    PROCESSING_NETWORK_ERROR: "Processing Network Error",
    INTERNAL_SERVER_ERROR: "Internal server error",
    SERVICE_UNAVAILABLE: "Service unavailable",
    NETWORK_UNAVAILABLE: "Processing Network Unavailable",
    INVALID_ACCOUNT_NUMBER: "Invalid Account Number",
    INVALID_SECURITY_CODE: "Invalid Security Code",
    TRANSACTION_ERROR: "Transaction Error",
    DENIED: "Denied by customer's bank",
    INSUFFICIENT_FUNDS: "Insufficient funds",
    PICK_UP_CARD: "Hold - Pick up card",
    DUPLICATE_TRANSACTION: "Duplicate Transaction",
    LOST_CARD: "Card reported lost",
    CALL_FOR_AUTHORIZATION: "Call for Authorization",
    GATEWAY_UNAVAILABLE: "Gateway unavailable",
    UNKNOWN_ERROR: "Unknown",
}

# Codes after which nothing was done and the same request may be sent again later (besides any E-message).
TRANSIENT_CODES = frozenset({NETWORK_UNAVAILABLE, PROCESSING_NETWORK_ERROR, SERVICE_UNAVAILABLE, GATEWAY_UNAVAILABLE})
# In-band equivalents of an HTTP 5xx: the gateway itself does not know what happened, so neither do we.
UNKNOWN_CODES = frozenset({INTERNAL_SERVER_ERROR, UNKNOWN_ERROR})

# GatewayMessage prefixes.
APPROVED_MESSAGE = "A01 - Approved"
CREDIT_POSTED_MESSAGE = "A02 - Credit Posted"
PARTIALLY_APPROVED_MESSAGE = "A05 - Partially Approved"

# GatewayMessage of a decline or E-message, as BridgePay's test server recorded it (DESIGN §5), by message code.
DECLINE_MESSAGES: dict[str, str] = {
    "D01": "D01 - Denied by customer's bank (Issuer Unavailable)",
    "D05": "D05 - Invalid card number (Invalid Account Number)",
    "D10": "D10 - Card reported lost/stolen (Lost/Stolen Card)",
    "D30": "D30 - Call for Authorization (Referral)",
    "D04": "D04 - Hold - Pick up card (Pick Up Card)",
    "D08": "D08 - CSC is invalid (Decline CSC/CID Fail)",
    "D03": "D03 - Insufficient funds",
    "E02": "E02 - Processing Network Unavailable (System is temporarily unavailable)",
    "E09": "E09 - Processing Network Error",
}
