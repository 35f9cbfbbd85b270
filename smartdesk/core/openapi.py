"""What the OpenAPI schema says about errors, and the JSON 404 under /api/.

Every API answers its errors the same way (`smartdesk.core.api_errors`): a JSON object with a
`detail` message (and, for invalid input, one list of messages per field). The
post-processing hook documents those answers on every operation that does not describe them
itself, so that a client (and schemathesis) knows every status code it can get.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found

ERROR_COMPONENT = "Error"

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "An error: `detail` says what went wrong; invalid input lists messages per field "
        "(the field's name, or `non_field_errors`)."
    ),
    "properties": {
        "detail": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
                {"type": "object"},
            ]
        },
        "code": {"type": "string"},
    },
    "additionalProperties": True,
}

# 429 is not here: only the operations that rate-limit (the widget's) answer it, and they
# document it themselves; sign-in lockout (django-axes) concerns the login form, not tokens.
_ANY_OPERATION = {
    "400": "Invalid input (body, query or path parameter).",
    "401": "Not signed in, or the credentials are invalid.",
    "403": "The caller's role does not allow this.",
    "404": "No such object, or not visible to the caller.",
    "405": "The method is not allowed here.",
    "406": "No acceptable representation for the Accept header.",
    "413": "The request body is too large.",
    "503": "A backing service is unavailable; retry as `Retry-After` says.",
}
_WRITES = {
    "409": "Refused in the current state of the object.",
    "415": "Unsupported media type of the request body.",
}


# Rules across the fields of a body that a serializer cannot state, by component name: the
# module that owns the component registers them (`constrain`), the hook adds them.
_CONSTRAINTS: dict[str, dict[str, Any]] = {}


def constrain(component: str, **keywords: Any) -> None:
    """Add JSON Schema keywords (`not`, `anyOf`...) to a component of the schema."""
    _CONSTRAINTS.setdefault(component, {}).update(keywords)


def document_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: add the shared error answers."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    # An app may describe its errors with a serializer named Error (chats.serializers): keep
    # its description, but it is the same body as everywhere (a 400 for a malformed body
    # names the fields instead of `detail`), so `detail` cannot be required.
    error = components.setdefault(ERROR_COMPONENT, dict(_ERROR_SCHEMA))
    error.pop("required", None)
    error["properties"] = {**error.get("properties", {}), **_ERROR_SCHEMA["properties"]}
    error["additionalProperties"] = True
    for name, keywords in _CONSTRAINTS.items():
        if name in components:
            components[name].update(keywords)
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _json_bodies_only(operation, components)
            codes = dict(_ANY_OPERATION)
            if method.lower() in {"post", "put", "patch", "delete"}:
                codes.update(_WRITES)
            responses = operation["responses"]
            for code, description in codes.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _json_bodies_only(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """The API's bodies are JSON: the form encodings DRF also parses (for the browsable API)
    cannot carry nulls, nested objects or empty lists, so the same document means something
    else as a form. They stay documented only where a body uploads a file."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return
    schema = content["application/json"].get("schema", {})
    name = schema.get("$ref", "").rpartition("/")[2]
    if '"binary"' in json.dumps(components.get(name, schema)):
        return
    for media_type in _FORM_TYPES:
        content.pop(media_type, None)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: a JSON body under /api/ (a URL that matches no route, e.g. a non-numeric
    id), the page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return page_not_found(request, exception)
