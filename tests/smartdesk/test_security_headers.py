"""Security headers on every response, TLS settings from the environment, and
`check --deploy` clean in a production-like environment."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"

_SAMPLE = {"int": "1", "str": "x", "slug": "x", "path": "x", "uuid": str(uuid.uuid4())}


def _routes(patterns=None, prefix: str = "") -> list[str]:
    """One concrete path per URL pattern of the project (converters given sample values)."""
    out: list[str] = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            part = re.sub(
                r"<(?:(\w+):)?\w+>", lambda m: _SAMPLE.get(m.group(1) or "str", "x"), str(pattern)
            )
        else:
            part = str(pattern).lstrip("^").rstrip("$").replace("\\Z", "")
            if any(ch in part for ch in "()[]?*+\\"):
                continue
        if isinstance(entry, URLResolver):
            out.extend(_routes(entry.url_patterns, prefix + part))
        elif isinstance(entry, URLPattern):
            out.append("/" + prefix + part)
    return sorted(set(out))


def _assert_headers(response, where: str) -> None:
    csp = response.get("Content-Security-Policy", "")
    directives = dict([*d.strip().split(" ", 1), ""][:2] for d in csp.split(";") if d.strip())
    assert directives.get("default-src") == "'self'", f"{where}: CSP {csp!r}"
    assert "'unsafe-inline'" not in directives.get("script-src", "'unsafe-inline'"), where
    assert "'unsafe-eval'" not in directives.get("script-src", ""), where
    assert directives.get("object-src") == "'none'", where
    assert directives.get("frame-ancestors") == "'none'", where
    assert response.get("X-Content-Type-Options") == "nosniff", where
    assert response.get("Referrer-Policy") == "same-origin", where


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "super_admin", "operator"])
def test_every_route_answers_with_the_security_headers(persona, request) -> None:
    client = Client(raise_request_exception=False)
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    routes = _routes()
    assert len(routes) > 50  # the walk found the project's URLs
    for path in routes:
        response = client.get(path)
        _assert_headers(response, f"GET {path} as {persona} ({response.status_code})")


@pytest.mark.django_db
def test_api_writes_errors_static_files_and_the_schema_carry_them_too(operator) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    answers = {
        "POST presence": client.post(
            "/api/v1/me/presence/", {"presence": "nonsense"}, content_type="application/json"
        ),
        "PUT me": client.put("/api/v1/me/", {}, content_type="application/json"),
        "schema": client.get("/api/v1/schema/"),
        "static": client.get("/static/css/app.css"),
        "missing": client.get("/no/such/page/"),
        "anonymous API": Client().get("/api/v1/me/"),
    }
    assert answers["POST presence"].status_code == 400
    assert answers["static"].status_code == 200
    for where, response in answers.items():
        _assert_headers(response, where)


@override_settings(
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    SECURE_SSL_REDIRECT=True,
    SECURE_HSTS_SECONDS=31536000,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=True,
    SECURE_REDIRECT_EXEMPT=[r"^healthz$"],
)
@pytest.mark.django_db
def test_behind_tls_https_answers_carry_hsts_and_http_is_redirected() -> None:
    client = Client()

    over_tls = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    plain = client.get("/accounts/login/")
    probe = client.get("/healthz")

    assert over_tls.status_code == 200
    assert over_tls["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
    _assert_headers(over_tls, "login over TLS")
    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    assert probe.status_code == 200  # the load balancer's probe over plain HTTP


# --- the environment switches it on ------------------------------------------------------

PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "proxy": settings.SECURE_PROXY_SSL_HEADER,
    "redirect": settings.SECURE_SSL_REDIRECT,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_secure": settings.CSRF_COOKIE_SECURE,
}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(DJANGO_SETTINGS_MODULE="smartdesk.settings", **extra)
    return env


def _production(**extra: str) -> dict[str, str]:
    return _env(
        DEBUG="false",
        BEHIND_TLS_PROXY="true",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="desk.example.com",
        DATABASE_URL="postgres://smartdesk@db.example.invalid:5432/smartdesk",
        REDIS_URL="redis://redis.example.invalid:6379/0",
        **extra,
    )


def _probe(env: dict[str, str]) -> dict:
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_behind_tls_proxy_turns_on_redirect_hsts_and_secure_cookies() -> None:
    on = _probe(_production())
    off = _probe(_env(DEBUG="true"))

    assert on == {
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "redirect": True,
        "hsts": 31536000,
        "session_secure": True,
        "csrf_secure": True,
    }
    assert off["proxy"] is None
    assert off["redirect"] is False
    assert off["hsts"] == 0


def test_check_deploy_passes_in_a_production_like_environment() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- our pages: no inline script, event handler or style attribute -------------------------

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
_STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I)


@pytest.mark.parametrize(
    "template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
)
def test_templates_have_no_inline_script_handler_or_style(template: str) -> None:
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    source = re.sub(r"<pre>.*?</pre>", "", source, flags=re.S)  # shown as text, not run

    assert not _INLINE_SCRIPT.search(source), template
    assert not _HANDLER.search(source), template
    assert not _STYLE_ATTR.search(source), template
