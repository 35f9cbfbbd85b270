"""Test overlay: the real settings pointed at the local PostgreSQL and Redis.

`make test` (and plain `pytest`) use this module. Override the defaults with DATABASE_URL and
REDIS_URL. Only choices that exist for tests live here.
"""

from __future__ import annotations

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/smartdesk")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_COOKIES", "false")

from smartdesk.settings import *  # noqa: F403
from smartdesk.settings import CACHES, CHANNEL_LAYERS

# Parallel test workers (and parallel runs on other databases) share one Redis: keep their
# keys and groups apart.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_run = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
if "CONFIG" in CHANNEL_LAYERS["default"]:
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"test-{_run}-{_worker}"
CACHES["default"]["KEY_PREFIX"] = f"test-{_run}-{_worker}"
# Tests may `cache.clear()`, which on Redis is FLUSHDB: give each worker's cache a database of
# its own (1-14; 15 for a run without xdist), away from the channel layer's database 0.
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    _digits = "".join(ch for ch in _worker if ch.isdigit())
    _db = 1 + int(_digits) % 14 if _digits else 15
    CACHES["default"]["LOCATION"] = CACHES["default"]["LOCATION"].rsplit("/", 1)[0] + f"/{_db}"

# Task code runs in the test process; tests that need real workers start them.
CELERY_TASK_ALWAYS_EAGER = True
TICKER_ENABLED = False

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True  # no collectstatic before tests
