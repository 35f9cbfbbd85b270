"""ASGI entry for bench/ingest.py's server (the product's app under bench settings)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.ingest_site")

from smartdesk.asgi import application  # noqa: F401
