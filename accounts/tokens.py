"""JWT token types for partners (simplejwt, settings in SIMPLE_JWT)."""

from django.conf import settings
from django.utils.crypto import salted_hmac
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

# The `api` claim names the API a token is for, so neither API accepts the other's tokens.
ANDCHARGE_API = "andcharge"
HOP_API = "hop"
# The claim of a HOP token that ties it to the service account's credentials at issue (credentials_stamp).
CREDENTIALS_CLAIM = "cred"


class PartnerIdToken(Token):
    """OpenID-style identity token: who the partner is. Never accepted for authorization."""

    token_type = "id"
    lifetime = api_settings.ACCESS_TOKEN_LIFETIME


def credentials_stamp(user) -> str:
    """A keyed digest of the account's stored password hash, for its HOP tokens: a new password (even the same one
    again, with a new salt) changes it, so the tokens issued before stop at once. Keyed with the JWT signing key,
    so the claim tells nothing about the hash."""
    return salted_hmac("chargepay.hop-token.credentials", user.password, secret=settings.JWT_SIGNING_KEY).hexdigest()
