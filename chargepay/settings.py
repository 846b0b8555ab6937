"""chargepay settings, read from the environment (django-environ).

Defaults serve `make run`: the embedded PostgreSQL it starts (database chargepay on 127.0.0.1:54329, or the port in
EMBEDDED_POSTGRES_PORT; `chargepay/dev_database.py`), eager Celery, an in-memory cache, DEBUG on. PostgreSQL is the
only database engine: the ledger's guarantees are its constraints, triggers and functions. Production sets every
variable listed in `.env.example`; with DEBUG off the security settings below make `manage.py check --deploy` pass.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from chargepay import dev_database

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
_DEV_SECRET_KEY = "django-insecure-dev-only-change-me"
SECRET_KEY = env("SECRET_KEY", default=_DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from the project (offline, pinned)
    "django_celery_beat",
    "axes",
    "rangefilter",
    "core",
    "accounts",
    "ledger",
    "statements",
    "gateways",
    "wallet",
    "reconciliation",
    "webhooks",
    "backoffice",
    "monitoring",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.AccessLogMiddleware",  # one access log line and the request metrics, for every answer below
    "monitoring.middleware.OperationsEndpointsMiddleware",  # /health/*, /metrics: before host and SSL checks
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # the admin's static files, from gunicorn too
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a locked-out admin login into the lockout page
]

# The admin's login goes through django-axes first: after AXES_FAILURE_LIMIT failed attempts for a username
# from one IP address, that pair is locked out for AXES_COOLOFF_HOURS (attempts are kept in the database).
# The HOP log-in (accounts.api.hop.service_account_log_in) is guarded by the same settings, per e-mail and address.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_LOCKOUT_CALLABLE = "chargepay.lockout.lockout_response"  # the hosted link page gets its own lockout page
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)

ROOT_URLCONF = "chargepay.urls"
WSGI_APPLICATION = "chargepay.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=dev_database.database_url())}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL: the ledger relies on its triggers and functions")
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
# Persistent connections: a request reuses its thread's connection instead of opening one (CONN_MAX_AGE seconds).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A health check costs a round trip (SELECT 1) at the start of every request that uses the database; without it
# a connection the server dropped fails one request, and the next one reconnects.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves the admin's CSS/JS in every process (gunicorn included); with finders on it needs no
# collectstatic step (a handful of admin files: their lookup cost is negligible).
WHITENOISE_USE_FINDERS = True

# --- REST framework and JWT -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.StrictJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "partner": env("PARTNER_RATE_LIMIT", default="6000/min"),
        "service_account": env("SERVICE_ACCOUNT_RATE_LIMIT", default="6000/min"),
        # self-registration, per client address (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES proxies)
        "partner_registration": env("PARTNER_REGISTRATION_RATE_LIMIT", default="10/hour"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

_DEV_JWT_SIGNING_KEY = "dev-only-jwt-signing-key-change-me-0123456789abcdef"
JWT_SIGNING_KEY = env("JWT_SIGNING_KEY", default=_DEV_JWT_SIGNING_KEY)
if not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or JWT_SIGNING_KEY in (_DEV_JWT_SIGNING_KEY, SECRET_KEY)):
    raise ImproperlyConfigured("with DEBUG off, set SECRET_KEY and a different JWT_SIGNING_KEY")
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "VERIFYING_KEY": "",
    "ISSUER": env("JWT_ISSUER", default="chargepay"),
    "AUDIENCE": env("JWT_AUDIENCE", default="chargepay-partners"),
    "LEEWAY": 0,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env.int("JWT_REFRESH_HOURS", default=24)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "sub",
    "USER_ID_FIELD": "id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
}

# Each API's document sets its own title, description and hooks (chargepay/urls.py).
SPECTACULAR_SETTINGS = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The &Charge enums: the request's `service` and the answer's `type` (a donation answers CO2_DONATION).
    "ENUM_NAME_OVERRIDES": {
        "ServiceEnum": ["CO2_OFFSET_CHARGING_SESSION", "DONATE_FOR_CO2_OFFSET", "PAY_FOR_CHARGING_SESSION"],
        "TransactionTypeEnum": ["CO2_DONATION", "CO2_OFFSET_CHARGING_SESSION", "PAY_FOR_CHARGING_SESSION"],
    },
}

# --- Product limits ---------------------------------------------------------------------------
KM_MAX_PER_TRANSACTION = env.int("KM_MAX_PER_TRANSACTION", default=100_000)
# CO2 offsets (README "CO2 offsets"): the share of MAX_CHARGING_POWER a session is assumed to draw when it sends no
# energy, and the kilometers that offset one kg of CO2e. Decimals, never floats.
CO2_ESTIMATE_LOAD_FACTOR = Decimal(env.str("CO2_ESTIMATE_LOAD_FACTOR", default="0.6"))
CO2_KM_PER_KG = Decimal(env.str("CO2_KM_PER_KG", default="1"))
CHARGE_MAX_CENTS = env.int("CHARGE_MAX_CENTS", default=100_000)  # largest card top-up (the gateway takes ≤ 8 digits)
IDEMPOTENCY_RETENTION_HOURS = env.int("IDEMPOTENCY_RETENTION_HOURS", default=48)  # DESIGN: at least 24
# How long refused API requests are kept for support (DESIGN §12); `manage.py purge_refused_attempts` deletes older.
ATTEMPT_RETENTION_DAYS = env.int("ATTEMPT_RETENTION_DAYS", default=90)
HOP_JWT_MINUTES = env.int("HOP_JWT_MINUTES", default=60)
# A tap line item that would take the cents wallet past its credit limit charges the card on record this many cents
# (then applies the line item again); 0 = no automatic top-up, the line item is rejected for staff.
AUTO_TOPUP_CENTS = env.int("AUTO_TOPUP_CENTS", default=0)
CREDIT_LIMIT_MAX_CENTS = env.int("CREDIT_LIMIT_MAX_CENTS", default=100_000)  # the most credit finance may give
# Mail (customers' password-reset links): EMAIL_URL as django-environ reads it, e.g. smtp+tls://user:pass@host:587;
# the default prints mails on the console.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Charge&Pay <no-reply@chargepay.invalid>")
LINK_ACTIVATION_HOURS = env.int("LINK_ACTIVATION_HOURS", default=24)  # how long a partner's activation code holds

# --- Partner webhooks (webhooks/services.py; DESIGN §11) ----------------------------------------
# http:// URLs and private/loopback addresses allowed (tests, make run); never in production.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15)
# Seconds before each try after a failure (Standard Webhooks' schedule); the first try is immediate.
_WEBHOOK_SCHEDULE_DEFAULT = ["5", "300", "1800", "7200", "18000", "36000", "36000"]
WEBHOOK_RETRY_SCHEDULE = [int(seconds) for seconds in env.list("WEBHOOK_RETRY_SCHEDULE", default=_WEBHOOK_SCHEDULE_DEFAULT)]
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.1)  # each delay ± this fraction
WEBHOOK_DISABLE_AFTER_HOURS = env.int("WEBHOOK_DISABLE_AFTER_HOURS", default=120)  # failing this long: disabled, told
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)  # the old secret signs too
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=60)  # a worker's hold on one attempt (> the timeout)
WEBHOOK_SWEEP_AFTER_SECONDS = env.int("WEBHOOK_SWEEP_AFTER_SECONDS", default=30)  # due this long, not started: re-enqueued
WEBHOOK_COUNTDOWN_MAX_SECONDS = 3000  # a later retry is left to the sweeper (below the broker's visibility timeout)

# --- Celery (chargepay/celery.py, gateways/tasks.py) -------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False  # an eager task's failure never turns the API answer into a 500
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Money tasks are idempotent: acknowledge after the work, redeliver if the worker dies, one message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
# Longer than the longest task (90 s) plus its longest retry delay (CAPTURE_RETRY_MAX_DELAY), so Redis never
# redelivers a message that is still being worked on.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "celery"  # /metrics reports its depth
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Schedules live here; DatabaseScheduler copies them into django-celery-beat's tables, where staff edit them.
CELERY_BEAT_SCHEDULE = {
    "sweep-card-charges": {"task": "gateways.sweep_card_charges", "schedule": 60.0},
    "sweep-webhooks": {"task": "webhooks.sweep", "schedule": 10.0},
    "sweep-line-items": {"task": "wallet.sweep_line_items", "schedule": 60.0},
    "reconcile": {"task": "reconciliation.reconcile", "schedule": crontab(hour=4, minute=0)},
    "purge-refused-attempts": {"task": "backoffice.purge_refused_attempts", "schedule": crontab(hour=3, minute=30)},
    "close-settlement-batch": {
        "task": "gateways.close_settlement_batch",
        "schedule": crontab(hour=2, minute=0),
    },
    # Partner CO2 statements: last month closes on the 1st (UTC months; a late item falls into the next month).
    "close-partner-statements": {"task": "statements.close_last_month", "schedule": crontab(day_of_month=1, hour=3, minute=0)},
    "purge-idempotency-keys": {"task": "core.purge_idempotency_keys", "schedule": crontab(hour=3, minute=30)},
}
# How long a worker owns a claimed charge before the sweeper may hand it to another (longer than a task runs).
CHARGE_WORK_LEASE_SECONDS = env.int("CHARGE_WORK_LEASE_SECONDS", default=120)
# A charge whose work has not started this long after it was due is re-enqueued by the sweeper.
CHARGE_SWEEP_AFTER_SECONDS = env.int("CHARGE_SWEEP_AFTER_SECONDS", default=30)
CAPTURE_MAX_RETRIES = env.int("CAPTURE_MAX_RETRIES", default=8)
# An authorized charge not captured within this many hours is a reconciliation finding.
CAPTURE_WINDOW_HOURS = env.int("CAPTURE_WINDOW_HOURS", default=24)
# Where reconciliation fetches a settled batch's CSV when finance has not uploaded one ({cycle_code} is filled in).
# Unset: the sandbox's export path on GATEWAY_URL's scheme and host (reconciliation.checks.batch_export_url).
GATEWAY_BATCH_EXPORT_URL = env("GATEWAY_BATCH_EXPORT_URL", default="")
CAPTURE_RETRY_MAX_DELAY = env.int("CAPTURE_RETRY_MAX_DELAY", default=600)

# --- Card gateway (BridgeComm); used by the HOP issue ------------------------------------------
GATEWAY_URL = env("GATEWAY_URL", default="http://127.0.0.1:8099/PaymentService/RequestHandler.svc")
GATEWAY_USER = env("GATEWAY_USER", default="sandbox")
GATEWAY_PASSWORD = env("GATEWAY_PASSWORD", default="sandbox")
GATEWAY_MERCHANT_CODE = env("GATEWAY_MERCHANT_CODE", default="100")
GATEWAY_MERCHANT_ACCOUNT_CODE = env("GATEWAY_MERCHANT_ACCOUNT_CODE", default="1000")
GATEWAY_TIMEOUT_SECONDS = env.float("GATEWAY_TIMEOUT_SECONDS", default=10.0)
GATEWAY_CONNECT_TIMEOUT_SECONDS = env.float("GATEWAY_CONNECT_TIMEOUT_SECONDS", default=3.0)
# An in-progress Idempotency-Key is held this long: the longest request (connect + read timeout of its one
# gateway call) plus a margin for the database work around it. Past it a retry takes the key over.
IDEMPOTENCY_LEASE_SECONDS = env.float(
    "IDEMPOTENCY_LEASE_SECONDS", default=GATEWAY_CONNECT_TIMEOUT_SECONDS + GATEWAY_TIMEOUT_SECONDS + 5.0
)
# Bulkhead: how many web threads of one process may wait for the gateway at once; a HOP charge beyond that is
# answered 503 10019 at once (nothing charged, its Idempotency-Key free again). See README, "The HOP API".
GATEWAY_CALLS_PER_PROCESS = env.int("GATEWAY_CALLS_PER_PROCESS", default=1)

# --- Security (production: DEBUG off) ---------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Staff sessions end after 8 hours (a working day) and when the browser closes.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"

# --- Back-office --------------------------------------------------------------------------------
# The largest kilometer movement a `support` user may reverse alone; `finance` may reverse any.
SUPPORT_REVERSAL_LIMIT_KM = env.int("SUPPORT_REVERSAL_LIMIT_KM", default=500)

# --- Operations: health and metrics (monitoring/, DESIGN §12) -----------------------------------------------
# When set, GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, anyone who reaches it may scrape.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# How long a readiness check or a scrape waits for Redis and the card gateway before reporting them down.
HEALTH_TIMEOUT_SECONDS = env.float("HEALTH_TIMEOUT_SECONDS", default=1.0)

# --- Logging: one JSON object per line, with the request id; never headers or bodies ------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # chargepay.access writes the one access line per request: gunicorn's own access log stays off.
        "chargepay.access": {"level": env("ACCESS_LOG_LEVEL", default="INFO")},
    },
}
