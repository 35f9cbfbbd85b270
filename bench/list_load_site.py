"""Settings for bench/list_load.py's server: the product's (bench.settings), with
`bench.list_load_urls` adding the bare baseline views. Not used by the product or the tests."""

from __future__ import annotations

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.list_load_urls"
