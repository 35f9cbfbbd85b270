"""The one settings module picks its backends from the environment, in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "ticker": settings.TICKER_ENABLED,
    "debug": settings.DEBUG,
    "socket_origin": settings.LIVE_SOCKET_ORIGIN,
    "connect_src": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"],
}))
"""


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    clean.update(env, DJANGO_SETTINGS_MODULE="smartdesk.settings")
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _settings(env: dict[str, str]) -> dict:
    result = _run(env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_no_environment_means_the_embedded_product() -> None:
    s = _settings({})

    assert s["db"] == "django.db.backends.sqlite3"
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    assert s["cache"].endswith("LocMemCache")
    assert s["eager"] is True
    assert s["ticker"] is True
    assert s["debug"] is True


def test_database_and_redis_urls_switch_to_postgresql_and_redis() -> None:
    s = _settings(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/smartdesk",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "SECRET_KEY": "x" * 50,
        }
    )

    assert s["db"] == "django.db.backends.postgresql"
    assert s["db_name"] == "smartdesk"
    assert s["layer"] == "smartdesk.core.layers.PubSubChannelLayer"
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert s["eager"] is False
    assert s["broker"] == "redis://127.0.0.1:6379/3"
    assert s["ticker"] is False  # celery beat runs the schedule
    assert s["debug"] is False


def test_celery_broker_url_overrides_redis_for_the_broker_only() -> None:
    s = _settings(
        {
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        }
    )

    assert s["broker"].startswith("amqp://")
    assert s["layer"] == "smartdesk.core.layers.PubSubChannelLayer"


def test_malformed_values_stop_the_process_at_start_up() -> None:
    for env, word in [
        ({"DATABASE_URL": "nonsense://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"DEBUG": "maybe", "SECRET_KEY": "x" * 50}, "DEBUG='maybe'"),
        ({"DATABASE_URL": "postgres://db/x"}, "SECRET_KEY"),  # production needs a real key
        ({"LIVE_SOCKET_ORIGIN": "http://127.0.0.1:8001"}, "LIVE_SOCKET_ORIGIN"),
        ({"LIVE_SOCKET_ORIGIN": "ws://h/ws/operator/"}, "LIVE_SOCKET_ORIGIN"),
        # a secure session cookie never goes over ws:// to another machine
        ({"LIVE_SOCKET_ORIGIN": "ws://desk.example.com:8001", "SECURE_COOKIES": "true"}, "wss://"),
    ]:
        result = _run(env)
        assert result.returncode != 0, env
        assert word in result.stderr, (env, result.stderr[-500:])


def test_a_socket_origin_of_its_own_is_allowed_by_the_content_security_policy() -> None:
    # The `ws` process on a port of its own (deploy/Procfile without a proxy): the pages'
    # policy must let them connect there, and only there.
    s = _settings({"LIVE_SOCKET_ORIGIN": "ws://127.0.0.1:8001/"})

    assert s["socket_origin"] == "ws://127.0.0.1:8001"
    assert s["connect_src"] == ["'self'", "ws://127.0.0.1:8001"]
    assert _settings({})["connect_src"] == ["'self'"]
    # secure cookies: wss:// anywhere, ws:// only to the browser's own machine
    for origin in ("wss://desk.example.com", "ws://127.0.0.1:8001", "ws://localhost:8001"):
        secure = _settings({"LIVE_SOCKET_ORIGIN": origin, "SECURE_COOKIES": "true"})
        assert secure["socket_origin"] == origin
