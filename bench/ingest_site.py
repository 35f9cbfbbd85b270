"""Settings for bench/ingest.py's server: the product as is, with `bench.ingest_urls` adding
one bare view (the baseline). Not used by the product or the tests."""

from __future__ import annotations

from smartdesk.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_urls"
