"""Settings, read from the environment so one build runs embedded or in production.

Unset variables give the embedded default: a SQLite file and a broker that needs no
server (kombu's SQL transport over another SQLite file). Production sets DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY, DEBUG=false and ALLOWED_HOSTS; docs/deploy.md lists them.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("TESSERA_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env(
    DEBUG=(bool, True),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    SECURE=(bool, False),
)

DEBUG = env("DEBUG")
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (docs/deploy.md)")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-0123456789"
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "tessera.definitions",
    "tessera.records",
    "tessera.conditions",
    "tessera.segments",
    "tessera.timers",
    "tessera.actions",
    "tessera.flows",
    "tessera.api",
    "tessera.exchange",
    "tessera",
    "templates_lib",
    "builders",
    "frontend",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "graphene_django",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "tessera.urls"
WSGI_APPLICATION = "tessera.wsgi.application"
ASGI_APPLICATION = "tessera.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tessera.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and the tick read while one of them writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_URL = "/media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))

WAGTAIL_SITE_NAME = "Tessera"
WAGTAILADMIN_BASE_URL = env.str("TESSERA_BASE_URL", default="http://127.0.0.1:8000")

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}"
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Results (a caller that waits for one, the worker tests): beside the embedded broker, the same
# Redis as the broker, or RPC replies over RabbitMQ. CELERY_RESULT_BACKEND overrides; results
# expire after an hour, and the periodic tasks store none.
_default_backend = (
    f"db+sqlite:///{VAR_DIR / 'results.sqlite3'}"
    if CELERY_BROKER_URL.startswith("sqla+")
    else CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else "rpc://"
)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=_default_backend)
CELERY_RESULT_EXPIRES = 3600
# One broker shared by several deployments (or by the tests) keeps them apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The tick is short and frequent: durable timers live in the database, never in long ETAs.
TESSERA_TICK_SECONDS = env.float("TESSERA_TICK_SECONDS", default=5.0)

# --- Actions: email, webhooks, the outbox's retries (tessera.actions) ---------------------
# E-mail goes through Django's backends, chosen by EMAIL_URL (django-environ):
# smtp://user:password@mail.example.com:587/?tls=True, smtp+ssl://…:465, consolemail:// (print).
# Embedded default: printed to the log, nothing leaves the machine.
_email = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
globals().update({name: value for name, value in _email.items() if value not in (None, "")})
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)  # seconds; below the outbox lease
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tessera <tessera@localhost>")
TESSERA_EMAIL_DOMAIN = env.str("TESSERA_EMAIL_DOMAIN", default="")  # Message-ID domain
# Webhooks are signed with HMAC-SHA256 under this secret; set it in production and give it to
# the receivers. Unset, it is derived from SECRET_KEY (stable, but changes with SECRET_KEY).
import hmac as _hmac  # noqa: E402 (kept inside this block: one block per team)

TESSERA_WEBHOOK_SECRET = (
    env.str("TESSERA_WEBHOOK_SECRET", default="")
    or _hmac.new(SECRET_KEY.encode(), b"tessera.webhook-signing", "sha256").hexdigest()
)
TESSERA_WEBHOOK_CONNECT_TIMEOUT = env.float("TESSERA_WEBHOOK_CONNECT_TIMEOUT", default=5.0)
TESSERA_WEBHOOK_TIMEOUT = env.float("TESSERA_WEBHOOK_TIMEOUT", default=15.0)  # read timeout
# Webhooks to private, loopback or link-local addresses (SSRF) only to hosts listed here, or
# anywhere with ALLOW_PRIVATE (on by default with DEBUG, for receivers on the developer's box).
TESSERA_WEBHOOK_ALLOWED_HOSTS = env.list("TESSERA_WEBHOOK_ALLOWED_HOSTS", default=[])
TESSERA_WEBHOOK_ALLOW_PRIVATE = env.bool("TESSERA_WEBHOOK_ALLOW_PRIVATE", default=DEBUG)
# The outbox: attempts back off from backoff_seconds, doubling up to backoff_max_seconds, and
# end `failed` after max_attempts (a person retries from the admin). A claimed row is leased
# for lease_seconds (longer than any one attempt); the tick re-sends due rows whose message
# is older than redispatch_seconds. No Celery ETA or countdown is ever used.
TESSERA_ACTIONS = {
    "max_attempts": env.int("TESSERA_ACTIONS_MAX_ATTEMPTS", default=8),
    "backoff_seconds": env.float("TESSERA_ACTIONS_BACKOFF_SECONDS", default=30.0),
    "backoff_max_seconds": env.float("TESSERA_ACTIONS_BACKOFF_MAX_SECONDS", default=3600.0),
    "lease_seconds": env.float("TESSERA_ACTIONS_LEASE_SECONDS", default=120.0),
    "redispatch_seconds": env.float("TESSERA_ACTIONS_REDISPATCH_SECONDS", default=300.0),
    "tick_batch": env.int("TESSERA_ACTIONS_TICK_BATCH", default=500),
    "retention_days": env.float("TESSERA_ACTIONS_RETENTION_DAYS", default=30.0),
}

# --- GraphQL (tessera.api) ----------------------------------------------------------------
# Limits per request (docs/graphql.md); introspection and GraphiQL follow DEBUG unless set.
TESSERA_GRAPHQL = {
    "depth": 10,
    "aliases": 50,
    "cost": env.int("TESSERA_GRAPHQL_COST", default=50_000),
    "batch": 10,
    "body_bytes": 100_000,
    "seconds": env.float("TESSERA_GRAPHQL_SECONDS", default=10.0),
    "tokens": 5_000,
    "introspection": env.bool("TESSERA_GRAPHQL_INTROSPECTION", default=DEBUG),
    "graphiql": env.bool("TESSERA_GRAPHIQL", default=DEBUG),
}

# --- Template packs (templates_lib) -------------------------------------------------------
# Folders searched for packs by key (and for their dependencies), besides the built-in ones;
# bounds on what a pack may hold, checked before anything in it is read (zip bombs included).
TESSERA_PACKS = {
    "dirs": env.list("TESSERA_PACK_DIRS", default=[]),
    "max_bytes": env.int("TESSERA_PACK_BYTES", default=256 * 1024 * 1024),
    "max_files": 10_000,
    "max_ratio": 100,  # uncompressed : compressed, for zip entries over 1 MB
    "doc_bytes": 1024 * 1024,
}

# --- Data exchange: imports, ingestion, exports (tessera.exchange) -----------------------
# Imports run in chunks (one transaction each, the job's cursor committed with it); a job whose
# worker has not reported for stale_seconds is resumed by the tick. Ingestion requests are
# signed over "<timestamp>.<body>" and refused outside window_seconds (docs/importing.md).
TESSERA_EXCHANGE = {
    "chunk_rows": env.int("TESSERA_IMPORT_CHUNK_ROWS", default=5000),
    "max_cell_chars": env.int("TESSERA_IMPORT_MAX_CELL", default=65535),
    "max_columns": 500,
    "stale_seconds": env.float("TESSERA_IMPORT_STALE_SECONDS", default=120.0),
    "default_region": env.str("TESSERA_PHONE_REGION", default="CN"),
    "ingest_window_seconds": env.int("TESSERA_INGEST_WINDOW_SECONDS", default=300),
    "ingest_body_bytes": env.int("TESSERA_INGEST_BODY_BYTES", default=5 * 1024 * 1024),
    "ingest_items": 1000,
}

# --- Builders and UI (builders: the Wagtail authoring side; frontend: the operator UI) ----
# Operators sign in at /app/login/; a table page shows page_size records unless its screen
# block says otherwise; a CSV export stops at export_rows rows.
LOGIN_URL = "/app/login/"
LOGIN_REDIRECT_URL = "/app/"
TESSERA_UI = {
    "page_size": 50,
    "export_rows": env.int("TESSERA_EXPORT_ROWS", default=100_000),
    "kanban_cards": 200,
}

# --- Tessera limits ---------------------------------------------------------------------
TESSERA_LIMITS = {
    "schema_bytes": 64 * 1024,
    "schema_depth": 32,
    "record_bytes": env.int("TESSERA_RECORD_BYTES", default=256 * 1024),
    "record_depth": 16,
    "pattern_length": 1000,
}

# --- Production hardening (all on when DEBUG is off) --------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]  # load balancers probe over plain HTTP
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
