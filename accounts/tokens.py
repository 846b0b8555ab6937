"""JWT token types for partners (simplejwt, settings in SIMPLE_JWT)."""

from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

# The `api` claim names the API a token is for, so neither API accepts the other's tokens.
ANDCHARGE_API = "andcharge"
HOP_API = "hop"


class PartnerIdToken(Token):
    """OpenID-style identity token: who the partner is. Never accepted for authorization."""

    token_type = "id"
    lifetime = api_settings.ACCESS_TOKEN_LIFETIME
