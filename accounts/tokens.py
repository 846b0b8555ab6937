"""JWT token types for partners (simplejwt, settings in SIMPLE_JWT)."""

from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

# Claim value marking a token as the &Charge partner API's, so no other API's token is accepted here.
ANDCHARGE_API = "andcharge"


class PartnerIdToken(Token):
    """OpenID-style identity token: who the partner is. Never accepted for authorization."""

    token_type = "id"
    lifetime = api_settings.ACCESS_TOKEN_LIFETIME
