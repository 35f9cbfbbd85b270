"""`/widget/<key>.js`: the widget script, configured per inbox, small enough to embed."""

from __future__ import annotations

import gzip

import pytest
from django.test import Client

from chats.models import Inbox
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_script_is_configured_for_its_inbox_and_under_30_kb_gzipped() -> None:
    inbox = factories.make_inbox(name="Сайт", kind=Inbox.Kind.WIDGET)

    response = Client().get(f"/widget/{inbox.key}.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content
    assert f'"key": "{inbox.key}"'.encode() in body
    assert f"/api/v1/client/{inbox.key}/".encode() in body
    assert f"/ws/client/{inbox.key}/".encode() in body
    assert inbox.secret.encode() not in body
    assert len(gzip.compress(body)) < 30 * 1024


@pytest.mark.parametrize("kind", [Inbox.Kind.TELEGRAM, Inbox.Kind.API])
def test_no_script_for_an_unknown_or_non_widget_inbox(kind) -> None:
    inbox = factories.make_inbox(kind=kind)

    assert Client().get(f"/widget/{inbox.key}.js").status_code == 404
    assert Client().get("/widget/nope.js").status_code == 404


def test_only_a_hex_widget_colour_reaches_the_script_and_saving_another_is_refused() -> None:
    from django.core.exceptions import ValidationError

    evil = "red}</style><img src=x onerror=alert(1)>"
    inbox = factories.make_inbox(
        name="Цвет", kind=Inbox.Kind.WIDGET, settings={"widget_color": evil}
    )

    body = Client().get(f"/widget/{inbox.key}.js").content.decode()

    assert "onerror" not in body
    assert '"color": ""' in body
    with pytest.raises(ValidationError):
        inbox.full_clean()
    inbox.settings = {"widget_color": "#1a2B3c"}
    inbox.full_clean()
    inbox.save()
    assert '"color": "#1a2B3c"' in Client().get(f"/widget/{inbox.key}.js").content.decode()
