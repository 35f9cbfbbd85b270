"""The pages tell the browser where the operator socket is when it is not their own origin."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

META = '<meta name="live-socket-origin" content="ws://127.0.0.1:8001">'


def _inbox(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get("/inbox/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_pages_name_the_socket_origin_when_one_is_set(operator) -> None:
    with override_settings(LIVE_SOCKET_ORIGIN="ws://127.0.0.1:8001"):
        assert META in _inbox(operator)


def test_without_one_the_pages_use_their_own_origin(operator) -> None:
    with override_settings(LIVE_SOCKET_ORIGIN=""):
        assert 'name="live-socket-origin"' not in _inbox(operator)
