"""`/widget/<inbox key>.js`: the website widget's script, configured for one inbox.

The static `static/widget/widget.js` with a one-line configuration in front: where the API
and the socket are, the inbox key, and the strings in the visitor's language (from their
browser's Accept-Language). Anyone may load the script; the API it calls holds browsers to
the inbox's allowed origins.
"""

from __future__ import annotations

import json
from functools import lru_cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.access import Capability, has_capability
from chats.models import WIDGET_COLOR, Inbox


@lru_cache(maxsize=1)
def _source(mtime_key: float) -> str:
    path = finders.find("widget/widget.js")
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _script() -> str:
    import os

    path = finders.find("widget/widget.js")
    # Re-read after an edit in development; cached otherwise.
    return _source(os.path.getmtime(path) if settings.DEBUG else 0.0)


def _strings() -> dict[str, str]:
    return {
        "Chat with us": _("Chat with us"),
        "Close the chat": _("Close the chat"),
        "Your message": _("Your message"),
        "Send": _("Send"),
        "Write a message…": _("Write a message…"),
        "Sending…": _("Sending…"),
        "Support": _("Support"),
        "attachment": _("attachment"),
        "Something went wrong; try again.": _("Something went wrong; try again."),
        # Shown instead of the browser's own "Failed to fetch" when the network is down.
        "offline": _("No connection. Check the internet and try again."),
        "You are number %s in the queue.": _("You are number %s in the queue."),
        "About %s min.": _("About %s min."),
        # The satisfaction survey after a conversation is closed (analytics.csat).
        "How did we do?": _("How did we do?"),
        "Rate %s of 5": _("Rate %s of 5"),
        "Comment (optional)": _("Comment (optional)"),
        "Send rating": _("Send rating"),
        "Choose a rating from 1 to 5.": _("Choose a rating from 1 to 5."),
        "Thank you for your rating!": _("Thank you for your rating!"),
    }


@require_GET
def widget_script(request: HttpRequest, key: str) -> HttpResponse:
    inbox = Inbox.objects.filter(key=key, kind=Inbox.Kind.WIDGET, is_active=True).first()
    if inbox is None:
        return HttpResponse(
            "/* Smartdesk: no such widget inbox. */",
            status=404,
            content_type="application/javascript; charset=utf-8",
        )
    origin = f"{request.scheme}://{request.get_host()}"
    ws_scheme = "wss" if request.is_secure() else "ws"
    options = inbox.settings if isinstance(inbox.settings, dict) else {}
    color = str(options.get("widget_color") or "")
    config = {
        "key": inbox.key,
        "origin": origin,
        "api": origin + reverse("client-session", args=[inbox.key]).rsplit("session/", 1)[0],
        "ws": f"{ws_scheme}://{request.get_host()}/ws/client/{inbox.key}/",
        "title": str(options.get("widget_title") or inbox.name),
        # Pasted into the widget's style sheet: only a plain hex colour gets there.
        "color": color if WIDGET_COLOR.fullmatch(color) else "",
        "strings": _strings(),
        # The language the strings are in (the browser's, if we speak it): the panel's `lang`.
        "lang": get_language() or settings.LANGUAGE_CODE,
    }
    prelude = "var SMARTDESK_CONFIG = " + json.dumps(config, ensure_ascii=False).replace(
        "</", "<\\/"
    )
    response = HttpResponse(
        prelude + ";\n" + _script(), content_type="application/javascript; charset=utf-8"
    )
    response["Cache-Control"] = "public, max-age=300"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["Vary"] = "Accept-Language"
    return response


@require_GET
def widget_demo(request: HttpRequest, key: str) -> HttpResponse:
    """A page to try the widget on this server (admins only): add this server's own origin
    to the inbox's allowed origins first."""
    if not has_capability(request.user, Capability.USE_ADMIN):
        raise Http404
    inbox = Inbox.objects.filter(key=key, kind=Inbox.Kind.WIDGET).first()
    if inbox is None:
        raise Http404
    script_url = request.build_absolute_uri(reverse("widget-script", args=[inbox.key]))
    return render(request, "widget/demo.html", {"inbox": inbox, "script_url": script_url})
