"""How a card token, an RFID token or a card's expiry is shown: by its last 4 characters only."""

# People read "…0019"; logs and gateway metadata use "****0019", the shape of BridgePay's own masked values.
SHOWN = "…"
LOGGED = "****"


def last_four(value: object, *, mark: str = SHOWN) -> str:
    """`mark` + the last 4 characters of `value`; "" for an empty value."""
    return f"{mark}{str(value)[-4:]}" if value else ""
