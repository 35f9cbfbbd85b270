"""What the production shape is wired with: pooled connections, a channel layer whose idle
receive never times out, and the choice of layer. Settings are read in a fresh process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/smartdesk",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "x" * 50,
}
PROBE = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
layer = settings.CHANNEL_LAYERS["default"]
print(json.dumps({
    "pool": db.get("OPTIONS", {}).get("pool"),
    "server_side_binding": db.get("OPTIONS", {}).get("server_side_binding"),
    "prepare_threshold": db.get("OPTIONS", {}).get("prepare_threshold"),
    "conn_max_age": db["CONN_MAX_AGE"],
    "layer": layer["BACKEND"],
    "host": layer["CONFIG"]["hosts"][0],
    "group_expiry": layer["CONFIG"].get("group_expiry"),
}))
"""


def _settings(**env: str) -> dict:
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    clean.update(PRODUCTION, **env, DJANGO_SETTINGS_MODULE="smartdesk.settings")
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgresql_connections_come_from_a_capped_pool_that_waits_when_full() -> None:
    s = _settings(DB_POOL_MAX_SIZE="7", DB_POOL_TIMEOUT="4")

    assert s["pool"]["max_size"] == 7
    assert s["pool"]["timeout"] == 4.0
    assert s["conn_max_age"] == 0  # the pool owns connection lifetimes


def test_the_pool_can_be_switched_off_for_pgbouncer() -> None:
    s = _settings(DB_POOL_MAX_SIZE="0", DB_CONN_MAX_AGE="0")

    assert s["pool"] is None
    assert s["conn_max_age"] == 0


def test_queries_are_bound_on_the_server_and_prepared_once_run_five_times() -> None:
    s = _settings()

    assert s["server_side_binding"] is True
    assert s["prepare_threshold"] == 5


def test_prepared_statements_can_be_switched_off_for_an_older_pooler() -> None:
    s = _settings(DB_PREPARED_STATEMENTS="false")

    # psycopg's own defaults: parameters bound in the client, nothing prepared
    assert s["server_side_binding"] is None
    assert s["prepare_threshold"] is None


def test_the_redis_client_waits_longer_than_the_layers_blocking_receive() -> None:
    s = _settings(CHANNEL_LAYER_BACKEND="core")

    assert s["layer"] == "channels_redis.core.RedisChannelLayer"
    assert s["host"]["socket_timeout"] > RedisChannelLayer.brpop_timeout
    assert s["host"]["health_check_interval"] > 0
    # memberships that are not renewed by a heartbeat expire
    assert s["group_expiry"] <= 600


def test_the_pubsub_layer_is_the_default() -> None:
    s = _settings()

    assert s["layer"] == "smartdesk.core.layers.PubSubChannelLayer"
    assert s["host"]["socket_timeout"] > RedisChannelLayer.brpop_timeout
    assert s["host"]["health_check_interval"] > 0
    assert s["group_expiry"] is None


def test_an_idle_receive_outlives_the_blocking_timeout_without_an_error() -> None:
    """The finding: with the redis client's default 5 s socket timeout, every idle receive
    raised `redis.exceptions.TimeoutError` after 5 s and killed the consumer."""
    layer = RedisChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])

    async def idle() -> None:
        channel = await layer.new_channel()
        with pytest.raises(asyncio.TimeoutError):  # ours, after 12 s: nothing came, no error
            await asyncio.wait_for(layer.receive(channel), timeout=12)
        await layer.flush()

    asyncio.run(idle())
