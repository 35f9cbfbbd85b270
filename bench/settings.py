"""The benchmarks' settings: the product's, with a fast password hasher.

Set-up creates operators through the services, and the production hasher spends about a
second per password on a busy machine; no measured path hashes a password (clients sign in
with `force_login` or a token).
"""

from __future__ import annotations

from smartdesk.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # set-up only
