"""The product's URLs plus the baselines of bench/list_load.py: bare views that return the same
page of rows as the REST list and the inbox page by one raw SQL query each, with no session,
no access gate, no serializer or template. `?team_user=<id>` narrows them as the operator's
scope does (their teams' conversations and their own)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.html import escape

# The operator scope, as visible_conversations spells it: their teams' or assigned to them.
_SCOPE = """
   AND (%(user)s::bigint IS NULL
        OR c.team_id IN (SELECT t.team_id FROM accounts_operatorprofile_teams t
                           JOIN accounts_operatorprofile p ON p.id = t.operatorprofile_id
                          WHERE p.user_id = %(user)s)
        OR c.assignee_id = %(user)s)
"""

REST_SQL = (
    """
SELECT c.id, c.status, c.priority, c.topic, c.waiting_since, c.last_message_at,
       c.last_message_preview, c.unread_count, c.created_at, c.updated_at, cu.first_name,
       cu.last_name, i.kind, i.name, c.team_id, c.assignee_id
  FROM chats_conversation c
  JOIN customers_customer cu ON cu.id = c.customer_id
  JOIN chats_inbox i ON i.id = c.inbox_id
 WHERE c.deleted_at IS NULL"""
    + _SCOPE
    + """
 ORDER BY c.created_at DESC, c.id DESC
 LIMIT 50
"""
)

INBOX_SQL = (
    """
SELECT c.id, c.status, c.priority, c.waiting_since, c.last_message_at, c.last_message_preview,
       c.unread_count, cu.first_name, cu.last_name, i.kind, i.name, u.username
  FROM chats_conversation c
  JOIN customers_customer cu ON cu.id = c.customer_id
  JOIN chats_inbox i ON i.id = c.inbox_id
  LEFT JOIN accounts_user u ON u.id = c.assignee_id
 WHERE c.deleted_at IS NULL
   AND (c.status = 'open' OR (c.status = 'snoozed' AND c.snoozed_until <= now()))"""
    + _SCOPE
    + """
 ORDER BY c.priority DESC, c.waiting_since ASC NULLS LAST, c.last_message_at DESC NULLS LAST, c.id
 LIMIT 51
"""
)


def _rows(sql: str, request: HttpRequest) -> list[tuple[Any, ...]]:
    user = request.GET.get("team_user")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"user": int(user) if user else None})
        return cursor.fetchall()


def bare_rest(request: HttpRequest) -> JsonResponse:
    names = [
        "id", "status", "priority", "topic", "waiting_since", "last_message_at",
        "last_message_preview", "unread_count", "created_at", "updated_at", "first_name",
        "last_name", "channel", "inbox", "team", "assignee",
    ]  # fmt: skip
    rows = [dict(zip(names, row, strict=True)) for row in _rows(REST_SQL, request)]
    return JsonResponse({"next": None, "previous": None, "results": rows})


def bare_inbox(request: HttpRequest) -> HttpResponse:
    rows = _rows(INBOX_SQL, request)
    items = "".join(f"<li>{escape(row)}</li>" for row in rows)
    return HttpResponse(f"<!doctype html><html><body><ul>{items}</ul></body></html>")


urlpatterns = [
    path("bench/bare/rest/", bare_rest),
    path("bench/bare/inbox/", bare_inbox),
    path("", include("smartdesk.urls")),
]
