"""The hosted account-linking page (DESIGN §3.5): `GET /link/confirm?activationCode=&partnerId=&partnerUserId=&callbackUrl=`.

A partner that started a link (POST /v1/partners/{pid}/accounts?userId=) sends its customer's browser here. The
customer signs in or registers, then confirms or declines; the browser goes back to `callbackUrl` with `ok=true`
or `ok=false&error=<code>`. The callback must match one of the partner's registered prefixes, or the page shows
the error itself and never redirects. Every form posts back to the same URL (so the four parameters travel in
the query string), carries a CSRF token, and works without JavaScript.
"""

import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django import forms
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from accounts.models import Customer, Partner, PartnerStatus, User
from core import errors
from core.errors import ErrorCode
from ledger import services

logger = logging.getLogger("chargepay.link")

PARAMETERS = ("activationCode", "partnerId", "partnerUserId", "callbackUrl")
# The customer said no: of the codes the partner knows, this one says "the customer did not authorize it".
DECLINED = ErrorCode.AUTHORIZATION_INVALID


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, strip=False)


class RegisterForm(forms.Form):
    email = forms.EmailField(max_length=254)
    name = forms.CharField(max_length=200)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, help_text=password_validators_help_text_html)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists() or Customer.objects.filter(email__iexact=email).exists():
            raise ValidationError("This e-mail address is already registered: sign in instead.")
        return email

    def clean(self):
        cleaned = super().clean()
        if "password" in cleaned:
            user = User(username=cleaned.get("email", ""), email=cleaned.get("email", ""), first_name=cleaned.get("name", ""))
            try:
                validate_password(cleaned["password"], user=user)
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned


class _CallbackRedirect(HttpResponseRedirect):
    """A 303 to a registered callback, whatever its scheme (apps register deep links such as myapp://and-charge);
    only URLs that callback_url_allowed accepted ever get here."""

    status_code = 303

    def __init__(self, url: str):
        self.allowed_schemes = [urlsplit(url).scheme]
        super().__init__(url)


def _with_result(callback: str, *, ok: bool, error: str = "") -> str:
    parts = urlsplit(callback)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("ok", "true")] if ok else [("ok", "false"), ("error", error)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class LinkRequest:
    """The page's four parameters, resolved: the partner, and the callback when it is registered."""

    params: dict[str, str]
    partner: Partner | None
    callback: str | None

    @property
    def user_id(self) -> str:
        return self.params["partnerUserId"]

    @property
    def code(self) -> str:
        return self.params["activationCode"]


def _link_request(request) -> LinkRequest:
    params = {name: request.GET.get(name, "").strip() for name in PARAMETERS}
    partners = Partner.objects.filter(is_active=True).exclude(status=PartnerStatus.INITIAL)
    partner = partners.filter(code=params["partnerId"]).first() if params["partnerId"] else None
    allowed = partner is not None and accounts_selectors.callback_url_allowed(partner=partner, url=params["callbackUrl"])
    return LinkRequest(params=params, partner=partner, callback=params["callbackUrl"] if allowed else None)


@method_decorator(never_cache, name="dispatch")
class LinkConfirmView(View):
    template_name = "link/confirm.html"

    def get(self, request):
        link_request = _link_request(request)
        refused = self._refusal(link_request)
        if refused is not None:
            return refused
        return self._page(request, link_request)

    def post(self, request):
        link_request = _link_request(request)
        refused = self._refusal(link_request)
        if refused is not None:
            return refused
        action = request.POST.get("action")
        if action == "signin":
            return self._sign_in(request, link_request)
        if action == "register":
            return self._register(request, link_request)
        if action == "signout":
            logout(request)
            return redirect(request.get_full_path())
        if action == "confirm":
            return self._confirm(request, link_request)
        if action == "decline":
            return self._decline(link_request)
        return self._page(request, link_request, status=400)

    # --- answers ------------------------------------------------------------------------------------------
    def _page(self, request, link_request: LinkRequest, *, status=200, sign_in=None, register=None, notice=""):
        customer = accounts_selectors.customer_of_user(user=request.user)
        context = {
            "partner": link_request.partner,
            "user_id": link_request.user_id,
            "customer": customer,
            "sign_in": sign_in or SignInForm(),
            "register": register or RegisterForm(),
            "notice": notice,
        }
        return render(request, self.template_name, context, status=status)

    def _failed(self, request, link_request: LinkRequest, code: str, *, status: int = 400):
        """Back to the partner with the error, or, when there is no registered callback, the error on the page."""
        if link_request.callback is not None:
            return _CallbackRedirect(_with_result(link_request.callback, ok=False, error=code))
        return render(request, "link/error.html", {"code": code, "partner": link_request.partner}, status=status)

    def _refusal(self, link_request: LinkRequest):
        """Whatever makes the page unusable, in order: a missing parameter, an unknown partner, an unregistered
        callback (shown, never followed), a code that is not this link's live code."""
        request = self.request
        if not all(link_request.params.values()):
            return self._failed(request, link_request, ErrorCode.MANDATORY_PARAMETER_NOT_SET)
        if link_request.partner is None:
            return self._failed(request, link_request, ErrorCode.PARTNER_NOT_FOUND, status=404)
        if link_request.callback is None:
            return render(
                request, "link/error.html", {"code": "CALLBACK_NOT_REGISTERED", "partner": link_request.partner}, status=400
            )
        try:
            accounts_services.partner_link_check_code(
                partner=link_request.partner, external_user_id=link_request.user_id, activation_code=link_request.code
            )
        except (errors.ActivationCodeNotFound, errors.ObjectNotFound) as error:
            if request.method == "POST" and request.POST.get("action") == "confirm":
                return None  # a confirm that lost a race still says who holds the userId (partner_link_confirm)
            return self._failed(request, link_request, error.code, status=error.status)
        return None

    def _sign_in(self, request, link_request: LinkRequest):
        form = SignInForm(request.POST)
        if not form.is_valid():
            return self._page(request, link_request, status=400, sign_in=form)
        # authenticate() with the request goes through django-axes: failures are counted per e-mail and address,
        # and a locked-out pair gets the lockout page (AxesMiddleware), as in the admin.
        user = authenticate(request, username=form.cleaned_data["email"].lower(), password=form.cleaned_data["password"])
        if user is None or accounts_selectors.customer_of_user(user=user) is None:
            form.add_error(None, "The e-mail address or the password is wrong.")
            return self._page(request, link_request, status=400, sign_in=form)
        login(request, user)  # a new session key: a session fixed before sign-in is worth nothing
        return redirect(request.get_full_path())

    def _register(self, request, link_request: LinkRequest):
        form = RegisterForm(request.POST)
        if not form.is_valid():
            return self._page(request, link_request, status=400, register=form)
        try:
            customer = services.customer_register(
                email=form.cleaned_data["email"], name=form.cleaned_data["name"], password=form.cleaned_data["password"]
            )
        except errors.InvalidParameter:
            form.add_error(None, "This account cannot be registered; sign in if you have one.")
            return self._page(request, link_request, status=400, register=form)
        login(request, customer.user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(request.get_full_path())

    def _confirm(self, request, link_request: LinkRequest):
        customer = accounts_selectors.customer_of_user(user=request.user)
        if customer is None:
            return self._page(request, link_request, status=400, notice="Sign in or register first.")
        try:
            accounts_services.partner_link_confirm(
                partner=link_request.partner,
                external_user_id=link_request.user_id,
                activation_code=link_request.code,
                customer=customer,
            )
        except (errors.AccountLinkedToDifferentUser, errors.ActivationCodeNotFound, errors.ObjectNotFound) as error:
            return self._failed(request, link_request, error.code, status=error.status)
        except Exception:
            logger.exception("link confirmation failed")
            return self._failed(request, link_request, ErrorCode.GENERAL_PROCESSING_FAILURE, status=500)
        return _CallbackRedirect(_with_result(link_request.callback, ok=True))

    def _decline(self, link_request: LinkRequest):
        try:
            accounts_services.partner_link_decline(
                partner=link_request.partner, external_user_id=link_request.user_id, activation_code=link_request.code
            )
        except (errors.ActivationCodeNotFound, errors.ObjectNotFound) as error:
            return self._failed(self.request, link_request, error.code, status=error.status)
        return _CallbackRedirect(_with_result(link_request.callback, ok=False, error=DECLINED))
