"""Smartdesk settings: one module, driven by the environment.

With no environment at all this is the embedded product: SQLite, the in-memory channel
layer, Celery tasks run eagerly and an in-process ticker runs the periodic jobs.
``DATABASE_URL`` switches to PostgreSQL; ``REDIS_URL`` switches the channel layer, the cache
and the Celery broker to Redis. Malformed values stop the process at start-up.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp import constants as _csp
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _checked_url(name: str, value: str, schemes: set[str]) -> str:
    """Return ``value`` if it is a URL with one of ``schemes``; fail start-up otherwise."""
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a valid URL; expected a scheme of {sorted(schemes)}"
        )
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(name: str, default: bool) -> bool:
    """A boolean env var; anything but a clear yes/no fails start-up instead of meaning "no"."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true/false, 1/0, yes/no")


DATABASE_URL = _checked_url(
    "DATABASE_URL",
    env.str("DATABASE_URL", default=""),
    {"postgres", "postgresql", "pgsql", "sqlite"},
)
REDIS_URL = _checked_url("REDIS_URL", env.str("REDIS_URL", default=""), {"redis", "rediss", "unix"})

# Embedded mode is "no database configured": a developer machine or a demo.
EMBEDDED = not DATABASE_URL

DEBUG = _flag("DEBUG", EMBEDDED)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-embedded-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "smartdesk.apps.SmartdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "smartdesk.axes_app.AxesConfig",  # django-axes: sign-in throttling and lockout
    "csp",  # Content-Security-Policy header
    "smartdesk.core",
    "accounts",
    "customers",
    "chats",
    "telephony",
    "analytics",
    "smartdesk",  # the wiring: its management command (seed_demo)
    "analytics.ai",  # classification models (app label "ai")
]

MIDDLEWARE = [
    "smartdesk.core.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # on every response, static files and API too
    "smartdesk.core.middleware.InputBoundsMiddleware",  # NUL, body size, unknown methods
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "smartdesk.core.routers.ReplicaReadsMiddleware",  # analytics GETs read the replica
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smartdesk.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.ui_preferences",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "smartdesk.asgi.application"

# --- database ----------------------------------------------------------------------------

if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A dead database must fail a request (and /readyz) quickly, not hang it.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5)
        )
        # Parameters bound on the server, and a query run DB_PREPARE_THRESHOLD times on one
        # connection prepared there: PostgreSQL then plans it once per connection instead of
        # on every call. The live path's queries take longer to plan than to run (the list row:
        # 1.2-1.8 ms of planning, 0.2 ms of execution; docs/live.md). Off for a pooler that
        # cannot keep prepared statements (PgBouncer before 1.21; docs/deploy.md).
        if _flag("DB_PREPARED_STATEMENTS", True):
            DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
            DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env.int(
                "DB_PREPARE_THRESHOLD", default=5
            )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            # WAL lets the web process read while the ticker thread writes.
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20},
        }
    }
# PostgreSQL connections come from a pool per process (psycopg_pool through Django): a request
# or a consumer call borrows one and gives it back, instead of connecting afresh each time.
# Over the cap a caller waits up to DB_POOL_TIMEOUT seconds for a free connection rather than
# failing. Size it so that every process together stays under the server's max_connections
# (docs/live.md, docs/deploy.md): web and ws processes x DB_POOL_MAX_SIZE + worker and
# background worker children x DB_POOL_MAX_SIZE + beat + ami. DB_POOL_MAX_SIZE=0 turns the
# pool off (then DB_CONN_MAX_AGE applies, e.g. behind PgBouncer in transaction mode, which
# does the pooling itself).
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        # Connections above min_size close after this long unused.
        "max_idle": 300,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool owns connection lifetimes
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
# A kept connection the server dropped (a restart, a fail-over, an idle timeout) is noticed
# before use and replaced, not handed to a request or a task that would fail on it. With the
# pool, the pool checks each connection it lends (one empty round trip).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False

# --- read replica: analytics reads and exports -------------------------------------------
# With DATABASE_REPLICA_URL (a PostgreSQL streaming standby), the statistics pages, the
# reports API and the export builder read chats/customers/telephony/analytics rows there;
# writes, sessions, users and roles always use the primary (smartdesk/core/routers.py). Unset: all
# on the primary, as before. /readyz reports the replica's lag.
DATABASE_REPLICA_URL = _checked_url(
    "DATABASE_REPLICA_URL",
    env.str("DATABASE_REPLICA_URL", default=""),
    {"postgres", "postgresql", "pgsql"},
)
if DATABASE_REPLICA_URL:
    from smartdesk.core.routers import replica_database  # no pool, 1 s connect timeout

    DATABASES["replica"] = replica_database(
        env.db_url_config(DATABASE_REPLICA_URL), DATABASES["default"]
    )
DATABASE_ROUTERS = ["smartdesk.core.routers.PrimaryReplicaRouter"]
REPLICA_READ_PATHS = ("/statistics/", "/api/v1/reports/")
REPLICA_READ_TASKS = ("analytics.tasks.run_export",)
REPLICA_READ_APPS = ("chats", "customers", "telephony", "analytics")
REPLICA_NEVER = ("analytics.exportjob",)  # claimed and updated by the export task itself

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache ---------------------------------------------------------

# How often the server tells each operator socket the newest event id it is entitled to
# (after checking for and filling any gap), and refreshes the socket's group memberships.
LIVE_HEARTBEAT_SECONDS = env.float("LIVE_HEARTBEAT_SECONDS", default=20.0)
# Where browsers open the operator socket when the `ws` process is not behind the same
# origin as the pages (deploy/Procfile without a reverse proxy): e.g. ws://127.0.0.1:8001.
# Empty: the pages' own origin (a proxy routes /ws/ to the `ws` process; docs/live.md).
LIVE_SOCKET_ORIGIN = env.str("LIVE_SOCKET_ORIGIN", default="").rstrip("/")
if LIVE_SOCKET_ORIGIN and (not re.fullmatch(r"wss?://[A-Za-z0-9.\-\[\]:]+", LIVE_SOCKET_ORIGIN)):
    raise ImproperlyConfigured(
        f"LIVE_SOCKET_ORIGIN={LIVE_SOCKET_ORIGIN!r}: give ws://host[:port] or wss://host[:port]"
    )

_CHANNEL_LAYER_BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "smartdesk.core.layers.PubSubChannelLayer",
}
CHANNEL_LAYER_BACKEND = env.str("CHANNEL_LAYER_BACKEND", default="pubsub")
if CHANNEL_LAYER_BACKEND not in _CHANNEL_LAYER_BACKENDS:
    raise ImproperlyConfigured(
        f"CHANNEL_LAYER_BACKEND={CHANNEL_LAYER_BACKEND!r}: "
        f"use one of {sorted(_CHANNEL_LAYER_BACKENDS)}"
    )

if REDIS_URL:
    # The channel layer's blocking receive (BRPOP) waits 5 s; the client's socket timeout must
    # be longer or every idle receive ends in a TimeoutError that kills the consumer. Health
    # checks PING a connection that sat idle before using it, so a Redis restart is noticed
    # on the next command instead of after a failed publish.
    _redis_host = {
        "address": REDIS_URL,
        "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=30.0),
        "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=3.0),
        "socket_keepalive": True,
        "health_check_interval": 15,
        "retry_on_timeout": True,
    }
    _layer_config: dict[str, object] = {
        "hosts": [_redis_host],
        "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
    }
    if CHANNEL_LAYER_BACKEND == "core":
        _layer_config.update(
            # Messages queued for one web process's sockets (they share one Redis list)
            # before group sends to it are dropped (counted; heartbeats recover them): a
            # floor's burst must fit.
            capacity=env.int("CHANNEL_LAYER_CAPACITY", default=10_000),
            expiry=60,
            # A socket re-joins its groups on every heartbeat, so a member whose process died
            # without leaving (kill -9, lost node) drops out of the group within minutes.
            group_expiry=max(120, int(LIVE_HEARTBEAT_SECONDS * 6)),
        )
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": _CHANNEL_LAYER_BACKENDS[CHANNEL_LAYER_BACKEND],
            "CONFIG": _layer_config,
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="smartdesk"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ------------------------------------------------------------------------------

_broker = _checked_url(
    "CELERY_BROKER_URL",
    env.str("CELERY_BROKER_URL", default=REDIS_URL),
    {"redis", "rediss", "unix", "amqp", "amqps", "pyamqp"},
)
# No broker means the embedded product: tasks run in the calling process.
CELERY_TASK_ALWAYS_EAGER = not _broker
CELERY_BROKER_URL = _broker or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task, and
# with Django's pool it closes the pool too: each task opened a new PostgreSQL session
# (docs/live.md, "Kept between tasks"). With this it does so once per this many tasks;
# in between, `smartdesk.celery` hands a task's connection back to the pool when the task
# ends and drops one that broke, as Django does for a request.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
# At-least-once: a task is acknowledged after it ran (acks_late), a pool child that dies
# gives its task back (reject_on_worker_lost), and a worker reserves one task at a time.
# Every task is idempotent (it claims its row with a conditional UPDATE), so a second copy
# is harmless.
#
# The visibility timeout is how long Redis lets a reserved, unacknowledged task sit before
# handing it to another worker. It must outlast the longest task (an export may run 6 h, see
# analytics.tasks.run_export) and the longest countdown, or a task still running would be
# run a second time beside itself. Bringing work back quickly after a worker is killed is
# not the broker's job: what must happen (a reply, an assignment, a wake-up) is a database
# row that a sweep re-enqueues within a minute (docs/channels.md, "Delivery"); the broker's
# late copy then finds the row done and does nothing.
#
# Two queues. The default one (`celery`) holds what a person waits for, or what decides where
# a conversation goes: deliveries, assignment, the classifier (its label raises priority and
# routes by topic before assignment), Telegram updates, wake-ups, calls, the per-minute
# roll-up (it samples presence for the minute it runs in). The `background` queue holds slow
# work nobody watches happen: summaries (an LLM call of seconds), exports (up to hours), the
# nightly retraining, anomaly checks, the associations rebuild. Its own worker
# (deploy/Procfile `background`, at a lower CPU priority where it shares a machine) takes
# it, so an export or a slow LLM never holds the slots a reply is waiting for. A worker
# started without `-Q` consumes both (CELERY_TASK_QUEUES).
BACKGROUND_QUEUE = "background"
BACKGROUND_TASKS = (
    "analytics.ai.retrain_classifier",
    "analytics.tasks.anomaly_check",
    "analytics.tasks.run_export",
    "analytics.tasks.send_anomaly_webhook",
    "analytics.tasks.store_summary",
    "customers.tasks.rebuild_item_associations",
)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (
    Queue(CELERY_TASK_DEFAULT_QUEUE, routing_key=CELERY_TASK_DEFAULT_QUEUE),
    Queue(BACKGROUND_QUEUE, routing_key=BACKGROUND_QUEUE),
)
CELERY_TASK_ROUTES = {name: {"queue": BACKGROUND_QUEUE} for name in BACKGROUND_TASKS}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=7 * 3600),
    # A dead broker connection is noticed in seconds, not when TCP gives up.
    "socket_timeout": 30,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "health_check_interval": 25,
    "retry_on_timeout": True,
}
# A task running when the broker connection drops is left to finish: killing it could cut a
# Telegram send between the channel accepting it and the attempt being recorded (a double
# send later). If the broker hands the task out again, the copy finds the row claimed or done
# (every task is safe to run twice). Reconnect for ever, at start-up too.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TIMEZONE = "UTC"

# The in-process ticker stands in for `celery beat` when there is no broker.
TICKER_ENABLED = _flag("SMARTDESK_TICKER", CELERY_TASK_ALWAYS_EAGER)

# --- auth, sessions ----------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=int(timedelta(hours=12).total_seconds()))
# --- security: sign-in lockout, TLS, CSP --------------------------------------------------

# Behind a load balancer that terminates TLS (and sets X-Forwarded-Proto): plain-HTTP requests
# are redirected to https, browsers are told to stay on https (HSTS) and cookies are secure.
BEHIND_TLS_PROXY = _flag("BEHIND_TLS_PROXY", False)
SECURE_COOKIES = _flag("SECURE_COOKIES", not DEBUG or BEHIND_TLS_PROXY)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
# A browser sends a secure session cookie over ws:// only to its own machine: anywhere else the
# socket would open signed out, so the set-up is refused here rather than on every page.
_socket_host = urlsplit(LIVE_SOCKET_ORIGIN).hostname if LIVE_SOCKET_ORIGIN else None
if (
    SECURE_COOKIES
    and LIVE_SOCKET_ORIGIN.startswith("ws://")
    and _socket_host not in ("localhost", "127.0.0.1", "::1")
):
    raise ImproperlyConfigured(
        f"LIVE_SOCKET_ORIGIN={LIVE_SOCKET_ORIGIN!r} with secure cookies (SECURE_COOKIES, on "
        "without DEBUG or behind TLS): the session cookie never goes over ws://; use wss://"
    )
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _flag("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env.int(
        "SECURE_HSTS_SECONDS", default=int(timedelta(days=365).total_seconds())
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _flag("SECURE_HSTS_PRELOAD", True)
    # Probes and the PBX's dialplan may call the web process directly over plain HTTP on the
    # internal network: a redirect would break them (paths without the leading slash).
    SECURE_REDIRECT_EXEMPT = env.list(
        "SECURE_REDIRECT_EXEMPT",
        default=[r"^healthz$", r"^readyz$", r"^metrics$", r"^api/v1/telephony/route"],
    )
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp 4): our pages load scripts and styles from our own
# origin only; no inline scripts, inline event handlers or style attributes. The one
# exception is the Swagger UI page (smartdesk/urls.py), which keeps its inline stylesheet.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_csp.SELF],
        "script-src": [_csp.SELF],
        "style-src": [_csp.SELF],
        "img-src": [_csp.SELF, "data:", "blob:"],
        "font-src": [_csp.SELF],
        "connect-src": [_csp.SELF, *([LIVE_SOCKET_ORIGIN] if LIVE_SOCKET_ORIGIN else [])],
        "media-src": [_csp.SELF, "blob:"],
        "object-src": [_csp.NONE],
        "base-uri": [_csp.SELF],
        "form-action": [_csp.SELF],
        "frame-ancestors": [_csp.NONE],
    }
}

# Sign-in throttling (django-axes, its own tables; attempts and lockouts in the admin under
# "Axes"). LOGIN_FAILURES_ALLOWED wrong passwords in a row are allowed, the next one locks
# for LOGIN_LOCKOUT_MINUTES (0: until an admin deletes the lockout); a right password resets
# the count. LOGIN_LOCKOUT_PARAMETERS: comma-separated, each "username", "ip_address" or a
# combination "username+ip_address"; the default locks a username (from any address) and an
# address (for any username) separately. Behind one NAT address for the whole floor, use
# "username,username+ip_address" so that one operator's typos cannot lock out the rest.
AUTHENTICATION_BACKENDS = [
    "accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURES_ALLOWED = env.int("LOGIN_FAILURES_ALLOWED", default=5)
AXES_FAILURE_LIMIT = LOGIN_FAILURES_ALLOWED + 1
_lockout_minutes = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=_lockout_minutes) if _lockout_minutes > 0 else None
AXES_LOCKOUT_PARAMETERS = [
    part.split("+") if "+" in part else part
    for part in env.list("LOGIN_LOCKOUT_PARAMETERS", default=["username", "ip_address"])
]
for _part in AXES_LOCKOUT_PARAMETERS:
    if not set([_part] if isinstance(_part, str) else _part) <= {"username", "ip_address"}:
        raise ImproperlyConfigured(
            f"LOGIN_LOCKOUT_PARAMETERS: {_part!r} is not username, ip_address or both with +"
        )
# Not True: one success from an address would wipe its failures for every username.
AXES_RESET_ON_SUCCESS = False
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False  # no start-up banner in every manage.py command
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

# --- i18n --------------------------------------------------------------------------------

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static ------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- REST API ----------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "smartdesk.core.api_errors.api_exception_handler",
    # JSON bodies bounded in size, depth and NUL characters (smartdesk/core/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "smartdesk.core.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Smartdesk API",
    "DESCRIPTION": "Operator workspace, back-office and BI API.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # A self-hosted product must not load its API docs from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents the shared error answers (smartdesk/core/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "smartdesk.core.openapi.document_error_responses",
    ],
}

# --- conversations -----------------------------------------------------------------------

# An inbound message joins a conversation closed less than this many hours ago (reopening it).
CONVERSATION_REOPEN_HOURS = env.int("CONVERSATION_REOPEN_HOURS", default=24)
# How long a disconnected browser can catch up on missed live events before it must reload.
LIVE_EVENT_RETENTION_HOURS = env.int("LIVE_EVENT_RETENTION_HOURS", default=24)
# A browser missing more events than this is told to reload rather than replayed them all: a
# page render is cheaper than thousands of pushed fragments, and the socket stays responsive.
LIVE_REPLAY_MAX = env.int("LIVE_REPLAY_MAX", default=5000)

# --- channels (docs/channels.md) ---------------------------------------------------------

# Phone numbers written without a country code are read in this region (ISO 3166 code).
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="RU").upper()
# The Bot API endpoint; tests and air-gapped installs point it at a local server or a proxy.
TELEGRAM_API_BASE = _checked_url(
    "TELEGRAM_API_BASE",
    env.str("TELEGRAM_API_BASE", default="https://api.telegram.org"),
    {"http", "https"},
).rstrip("/")
TELEGRAM_TIMEOUT_SECONDS = env.float("TELEGRAM_TIMEOUT_SECONDS", default=10.0)
# A 429 asking to wait up to this long is waited out in the delivery task itself; longer
# waits go back to the queue with the countdown Telegram asked for.
TELEGRAM_INLINE_RETRY_SECONDS = env.float("TELEGRAM_INLINE_RETRY_SECONDS", default=5.0)
# The public https URL Telegram posts to (setWebhook); the path is added per inbox.
PUBLIC_BASE_URL = _checked_url(
    "PUBLIC_BASE_URL", env.str("PUBLIC_BASE_URL", default=""), {"http", "https"}
).rstrip("/")
# Attachments from any channel, stored through Django's default storage.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=20 * 1024 * 1024)
ATTACHMENT_CONTENT_TYPES = env.list(
    "ATTACHMENT_CONTENT_TYPES",
    default=[
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/pdf",
        "audio/ogg",
        "audio/mpeg",
        "video/mp4",
        "text/plain",
        "application/x-tgsticker",
        "video/webm",
    ],
)
# Widget visitors and app clients: how long a client token lives, and rate limits.
CLIENT_TOKEN_MAX_AGE_DAYS = env.int("CLIENT_TOKEN_MAX_AGE_DAYS", default=180)
CLIENT_RATE_MESSAGES_PER_MINUTE = env.int("CLIENT_RATE_MESSAGES_PER_MINUTE", default=20)
CLIENT_RATE_SESSIONS_PER_HOUR = env.int("CLIENT_RATE_SESSIONS_PER_HOUR", default=30)
PUSH_TIMEOUT_SECONDS = env.float("PUSH_TIMEOUT_SECONDS", default=5.0)
# Push webhooks to loopback / private / link-local addresses are refused unless allowed.
PUSH_ALLOW_PRIVATE = _flag("PUSH_ALLOW_PRIVATE", False)
# How long a customer's link to one of their files works.
ATTACHMENT_LINK_MAX_AGE_HOURS = env.int("ATTACHMENT_LINK_MAX_AGE_HOURS", default=24 * 7)
# Sweeps: an unprocessed Telegram update older than this is queued again.
TELEGRAM_UPDATE_SWEEP_MINUTES = env.int("TELEGRAM_UPDATE_SWEEP_MINUTES", default=5)
# Delivery outbox (docs/channels.md, "Delivery"). Every DELIVERY_SWEEP_SECONDS the sweep
# queues again a reply still `queued` that no task claimed within DELIVERY_STUCK_SECONDS
# (its task lost with a worker or a broker restart) or whose claim ran out. A claim lasts
# DELIVERY_LEASE_SECONDS and is renewed before each part; it must outlast one Bot API call
# with its inline 429 wait. (DELIVERY_STUCK_MINUTES, the old name, is still read.)
DELIVERY_STUCK_SECONDS = env.int(
    "DELIVERY_STUCK_SECONDS", default=env.int("DELIVERY_STUCK_MINUTES", default=1) * 60
)
DELIVERY_SWEEP_SECONDS = env.int("DELIVERY_SWEEP_SECONDS", default=30)
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=60)
for _name in ("DELIVERY_STUCK_SECONDS", "DELIVERY_SWEEP_SECONDS", "DELIVERY_LEASE_SECONDS"):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"{_name} must be a positive number of seconds")
# How many reverse proxies in front of us append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- operations --------------------------------------------------------------------------

# /metrics answers a request carrying `Authorization: Bearer <METRICS_TOKEN>` when a token
# is set, and otherwise only requests from METRICS_ALLOWED_IPS.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# --- fleet metrics ---
# PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself, smartdesk/core/metrics.py): one
# directory shared by every process of a host or pod, empty at start; /metrics then adds up
# every process there. METRICS_PORT: a Celery worker (which has no web server) serves those
# files on this port at METRICS_ADDR (0: it serves none). No token there: keep it internal.
METRICS_PORT = env.int("METRICS_PORT", default=0)
METRICS_ADDR = env.str("METRICS_ADDR", default="127.0.0.1")
# --- beat leader lock ---
# Only the beat holding this Redis lock sends periodic jobs; a standby takes over within
# this many seconds of the leader stopping (smartdesk/celery.py).
BEAT_LOCK_SECONDS = env.int("BEAT_LOCK_SECONDS", default=30)
# --- PgBouncer in transaction mode ---
# Server-side cursors (`.iterator()` in exports and roll-ups) outlive a transaction only on
# one server connection; behind PgBouncer in transaction mode turn them off (docs/deploy.md).
DB_DISABLE_SERVER_SIDE_CURSORS = _flag("DB_DISABLE_SERVER_SIDE_CURSORS", False)
if DB_DISABLE_SERVER_SIDE_CURSORS:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
READYZ_TIMEOUT_SECONDS = env.float("READYZ_TIMEOUT_SECONDS", default=2.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"layer_capacity": {"()": "smartdesk.core.metrics.ChannelLayerCapacityFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Dropped group sends are logged at INFO by channels-redis; the filter counts them
        # and raises them to warnings.
        "channels_redis.core": {"level": "INFO", "filters": ["layer_capacity"]},
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request URL at INFO; Bot API URLs carry the bot token.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- distribution (docs/distribution.md) ---------------------------------------------------
# Capacity for operators with none of their own and no team default.
DISTRIBUTION_DEFAULT_CAPACITY = env.int("DISTRIBUTION_DEFAULT_CAPACITY", default=5)
# What one conversation weighs in its operator's load, by channel ("telegram=1,widget=2").
DISTRIBUTION_WEIGHTS = {
    kind: int(weight) for kind, weight in env.dict("DISTRIBUTION_WEIGHTS", default={}).items()
}
# An open operator socket records presence in the database at most this often (on its
# heartbeat or the browser's ping, every 25 s); an online operator whose socket has been
# silent for PRESENCE_AWAY_AFTER_SECONDS becomes away, so that must exceed the write interval
# plus a ping.
PRESENCE_WRITE_SECONDS = env.int("PRESENCE_WRITE_SECONDS", default=60)
PRESENCE_AWAY_AFTER_SECONDS = env.int("PRESENCE_AWAY_AFTER_SECONDS", default=150)
if PRESENCE_AWAY_AFTER_SECONDS <= PRESENCE_WRITE_SECONDS + 30:
    raise ImproperlyConfigured(
        "PRESENCE_AWAY_AFTER_SECONDS must exceed PRESENCE_WRITE_SECONDS by more than 30 s"
    )
DISTRIBUTION_DEFAULT_HANDLE_SECONDS = env.int("DISTRIBUTION_DEFAULT_HANDLE_SECONDS", default=600)

# --- statistics (docs/kpis.md) ---------------------------------------------------------------
# Chat service level: answered within this many seconds, and the target share.
ANALYTICS_CHAT_SL_SECONDS = env.int("ANALYTICS_CHAT_SL_SECONDS", default=60)
ANALYTICS_CHAT_SL_TARGET = env.float("ANALYTICS_CHAT_SL_TARGET", default=0.8)
# Call service level (answered within N seconds) and the target share, for Erlang C too.
ANALYTICS_CALL_SL_SECONDS = env.int("ANALYTICS_CALL_SL_SECONDS", default=20)
ANALYTICS_CALL_SL_TARGET = env.float("ANALYTICS_CALL_SL_TARGET", default=0.8)
# Calls lost sooner than this are short abandons (misdials): counted nowhere else.
ANALYTICS_SHORT_ABANDON_SECONDS = env.int("ANALYTICS_SHORT_ABANDON_SECONDS", default=5)
# Abandoned calls in the call service level: "against" (in the denominator; the default),
# "ignore" (answered calls only) or "for" (abandoned within the threshold count as met).
ANALYTICS_CALL_SL_ABANDONS = env.str("ANALYTICS_CALL_SL_ABANDONS", default="against")
if ANALYTICS_CALL_SL_ABANDONS not in ("against", "ignore", "for"):
    raise ImproperlyConfigured("ANALYTICS_CALL_SL_ABANDONS must be against, ignore or for")
# CSAT: a positive answer is this or more (of 1-5); surveys on/off.
ANALYTICS_CSAT_POSITIVE = env.int("ANALYTICS_CSAT_POSITIVE", default=4)
ANALYTICS_CSAT_ENABLED = _flag("ANALYTICS_CSAT_ENABLED", True)
# Undo for close: for this many seconds a close can be taken back; the survey, the
# AI summary and classification (`conversation_closed`) wait until then.
CLOSE_UNDO_SECONDS = env.int("CLOSE_UNDO_SECONDS", default=10)
# Wallboard TV mode: a floor with more teams than one screen holds turns pages this often
# (at least 5 s).
WALLBOARD_ROTATE_SECONDS = env.int("WALLBOARD_ROTATE_SECONDS", default=20)
# Exports above this many rows are offered as a background job (all formats work directly).
ANALYTICS_EXPORT_DIRECT_ROWS = env.int("ANALYTICS_EXPORT_DIRECT_ROWS", default=100_000)

# --- AI summaries, trends and anomalies (docs/ai.md) -------------------------------------------
# An OpenAI-compatible endpoint that writes summaries; empty (the default): offline cards only.
AI_LLM_URL = _checked_url("AI_LLM_URL", env.str("AI_LLM_URL", default=""), {"http", "https"})
AI_LLM_MODEL = env.str("AI_LLM_MODEL", default="")
AI_LLM_API_KEY = env.str("AI_LLM_API_KEY", default="")
AI_LLM_TIMEOUT_SECONDS = env.float("AI_LLM_TIMEOUT_SECONDS", default=8.0)
# Anomaly alerts are also POSTed (JSON) here when set, e.g. a chat-ops incoming webhook.
AI_ALERT_WEBHOOK_URL = _checked_url(
    "AI_ALERT_WEBHOOK_URL", env.str("AI_ALERT_WEBHOOK_URL", default=""), {"http", "https"}
)
AI_ALERT_WEBHOOK_TIMEOUT_SECONDS = env.float("AI_ALERT_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Hours after an alert during which the same segment raises no other one.
AI_ANOMALY_COOLDOWN_HOURS = env.int("AI_ANOMALY_COOLDOWN_HOURS", default=6)

# --- telephony (docs/telephony.md) -----------------------------------------------------------
# What an operator on a call weighs in their load: at or above their capacity, no chat
# is assigned to them until the call and its wrap-up are over.
TELEPHONY_CALL_WEIGHT = env.int("TELEPHONY_CALL_WEIGHT", default=100)
# Seconds an operator stays busy after a call to finish its notes.
TELEPHONY_WRAPUP_SECONDS = env.int("TELEPHONY_WRAPUP_SECONDS", default=30)
# Abandons after a shorter wait than this are counted apart (a wrong number, not a lost call).
TELEPHONY_SHORT_ABANDON_SECONDS = env.int("TELEPHONY_SHORT_ABANDON_SECONDS", default=5)
# The dialplan's routing endpoint answers a request carrying this token (`?token=` or
# `Authorization: Bearer`), or one from an allowed address; with neither, nobody.
TELEPHONY_ROUTE_TOKEN = env.str("TELEPHONY_ROUTE_TOKEN", default="")
TELEPHONY_ROUTE_ALLOWED_IPS = env.list("TELEPHONY_ROUTE_ALLOWED_IPS", default=[])
TELEPHONY_ROUTE_CACHE_SECONDS = env.int("TELEPHONY_ROUTE_CACHE_SECONDS", default=30)
TELEPHONY_DEFAULT_QUEUE = env.str("TELEPHONY_DEFAULT_QUEUE", default="support")
# The AMI listener: one Redis lock per PBX, renewed well inside its lifetime; reconnects back
# off exponentially (with jitter) up to the maximum.
TELEPHONY_LOCK_SECONDS = env.int("TELEPHONY_LOCK_SECONDS", default=30)
TELEPHONY_RECONNECT_MAX_SECONDS = env.float("TELEPHONY_RECONNECT_MAX_SECONDS", default=30.0)
TELEPHONY_PING_SECONDS = env.float("TELEPHONY_PING_SECONDS", default=20.0)
# Calls still open this long after they started lost their Hangup; the sweep closes them.
TELEPHONY_STALE_CALL_HOURS = env.int("TELEPHONY_STALE_CALL_HOURS", default=6)
# The inbox (its key) a follow-up conversation opened from a call goes to; empty: the inbox of
# the customer's most recent conversation (refused when they have none).
TELEPHONY_FOLLOWUP_INBOX = env.str("TELEPHONY_FOLLOWUP_INBOX", default="")
# Without Redis a separate `ami` process could not reach the browsers (the in-memory channel
# layer lives in the web process), so the web process listens to the PBX itself.
TELEPHONY_AMI_IN_PROCESS = _flag("TELEPHONY_AMI_IN_PROCESS", not REDIS_URL)

# --- input bounds --------------------------------------------------------------------------
# A snooze wakes at most this many days ahead; a report period spans at most this many days.
SNOOZE_MAX_DAYS = env.int("SNOOZE_MAX_DAYS", default=365)
REPORT_MAX_DAYS = env.int("REPORT_MAX_DAYS", default=730)
# JSON request bodies nested deeper than this are refused with a 400 (smartdesk/core/parsers.py).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=64)
# The largest request body read into memory (JSON, forms; file uploads aside): larger ones get
# a JSON 413 on the API and webhooks (smartdesk/core/middleware.py). Django's own setting.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_BODY_BYTES", default=2_621_440)

# --- AI classification ---------------------------------------------------------------------
# The classifier's text backend: `use` (multilingual sentence encoder from a pinned package,
# checked by hash) or `tfidf` (character n-grams, the baseline). docs/ai.md
AI_CLASSIFIER_BACKEND = env.str("AI_CLASSIFIER_BACKEND", default="use")
if AI_CLASSIFIER_BACKEND not in ("use", "tfidf"):
    raise ImproperlyConfigured("AI_CLASSIFIER_BACKEND must be use or tfidf")
# Below this confidence a label is shown as unsure (and no rule acts on it).
AI_CLASSIFIER_UNSURE_BELOW = env.float("AI_CLASSIFIER_UNSURE_BELOW", default=0.55)
# Off: conversations are not classified as they arrive (ai_classify still works).
AI_CLASSIFY_ENABLED = _flag("AI_CLASSIFY_ENABLED", True)
# A conversation is classified after each of its customer's first N messages, and on close.
AI_CLASSIFY_FIRST_MESSAGES = env.int("AI_CLASSIFY_FIRST_MESSAGES", default=3)
# A complaint raises the conversation's priority to this ("high", "urgent"; empty: no rule).
AI_COMPLAINT_PRIORITY = env.str("AI_COMPLAINT_PRIORITY", default="high")
# An operator's correction counts as this many seed examples in training.
AI_CORRECTION_WEIGHT = env.float("AI_CORRECTION_WEIGHT", default=2.0)
