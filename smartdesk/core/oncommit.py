"""The one way to run a side effect after a commit (Saleor's `call_event`, in spirit).

`transaction.on_commit` runs a transaction's hooks in order and stops at the first that
raises: a live send that meets a Redis hiccup would skip the delivery task queued after it,
and the exception would turn a write that has committed into a 500 (so the operator sends
again). `after_commit` isolates each hook: a failure is logged as a warning with the hook's
name and counted (`smartdesk_after_commit_failures_total{name}`), and the next hook runs.

A side effect that must happen (deliver a reply, assign, wake) is never only a hook: it is a
database row written in the transaction, which a sweep finds if the hook failed (see
docs/channels.md, "Delivery"). The hook only makes it happen sooner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

from smartdesk.core import metrics

log = logging.getLogger(__name__)


def after_commit(
    fn: Callable[..., Any], /, *args: Any, name: str, using: str | None = None, **kwargs: Any
) -> None:
    """Run `fn(*args, **kwargs)` once the current transaction on `using` commits (at once
    when there is none); never raises, never stops the hooks registered after it.

    `name` says what the hook is for (`deliver-message`, `live-event`…): the metric label
    and the warning carry it, so keep it a short constant, never an id.
    """

    def hook() -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            metrics.AFTER_COMMIT_FAILURES.labels(name).inc()
            log.warning("after-commit %s failed; the others still ran", name, exc_info=True)

    # robust=True as well: should the guard itself ever raise, Django logs it and goes on.
    transaction.on_commit(hook, using=using, robust=True)
