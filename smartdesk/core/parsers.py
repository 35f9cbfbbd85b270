"""JSON request bodies, read within bounds.

Python's `json` recurses once per nesting level: ten thousand `[` end in a RecursionError
(a 500 on every endpoint, the unauthenticated widget's included). PostgreSQL refuses NUL in
text and in `jsonb`: a `\\u0000` that reaches a query is another 500. So every JSON body is

- at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes (413 otherwise),
- valid UTF-8 JSON without NaN/Infinity, nested at most `API_JSON_MAX_DEPTH` levels, and
- free of NUL characters in every key and string (400 otherwise).

`BoundedJSONParser` is the REST API's JSON parser (`REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`
and every view that names its parsers); `loads_bounded` does the same for the plain Django
webhook views.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


class UnsafeJson(ValueError):
    """The body is not JSON we accept; the message says why (for a 400)."""


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self) -> None:
        super().__init__(too_large_message())


def too_large_message(limit: int | None = None) -> str:
    return _("The request body is too large (at most %(n)d bytes).") % {
        "n": limit or max_body_bytes()
    }


def max_body_bytes() -> int:
    """The largest body read into memory (`DATA_UPLOAD_MAX_MEMORY_SIZE`, env `MAX_BODY_BYTES`):
    one limit, whether DRF reads the stream or a view reads `request.body`."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440


def _refuse_constant(name: str) -> None:
    raise UnsafeJson(_("Not valid JSON: %(v)s is not a number.") % {"v": name})


def check_value(value: Any, *, max_depth: int | None = None) -> None:
    """Raise UnsafeJson if `value` nests deeper than `max_depth` or holds a NUL character.

    Iterative, so it cannot itself run out of stack.
    """
    limit = settings.API_JSON_MAX_DEPTH if max_depth is None else max_depth
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise UnsafeJson(_("Text must not contain NUL characters."))
            continue
        if isinstance(item, Mapping):
            children: Any = [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            raise UnsafeJson(
                _("The JSON is nested too deeply (at most %(n)d levels).") % {"n": limit}
            )
        stack.extend((child, depth + 1) for child in children)


def loads_bounded(data: bytes | str, *, max_depth: int | None = None) -> Any:
    """`json.loads` that raises UnsafeJson for anything we refuse (never RecursionError)."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        limit = settings.API_JSON_MAX_DEPTH if max_depth is None else max_depth
        raise UnsafeJson(
            _("The JSON is nested too deeply (at most %(n)d levels).") % {"n": limit}
        ) from None
    except UnicodeDecodeError:
        raise UnsafeJson(_("Not valid JSON: the body is not UTF-8.")) from None
    except ValueError as error:
        if isinstance(error, UnsafeJson):
            raise
        raise UnsafeJson(_("Not valid JSON: %(e)s") % {"e": error}) from None
    check_value(value, max_depth=max_depth)
    return value


def read_bounded(stream: IO[bytes] | None) -> bytes:
    """The whole body, or PayloadTooLarge past `DATA_UPLOAD_MAX_MEMORY_SIZE`."""
    if stream is None:
        return b""
    limit = max_body_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge()
    return data


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a size, depth and NUL limit: a JSON 400/413, never a 500."""

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = read_bounded(stream)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise exceptions.ParseError(_("Not valid JSON: the body is not UTF-8.")) from None
        try:
            return loads_bounded(text)
        except UnsafeJson as error:
            raise exceptions.ParseError(str(error)) from None
