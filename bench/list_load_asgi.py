"""ASGI entry for bench/list_load.py's server (the product's app under its bench settings)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.list_load_site")

from smartdesk.asgi import application  # noqa: F401
