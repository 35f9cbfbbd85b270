"""The Celery app as the web process uses it: queuing a task from a new thread is cheap."""

from __future__ import annotations

import threading

from celery.app import backends

from smartdesk import celery as celery_module


def test_the_result_backend_is_resolved_once_per_process_not_per_thread(monkeypatch) -> None:
    # Django runs each request's sync code in a new thread; resolving the backend scans every
    # installed package's entry points, so it must not happen again in each of them.
    resolved = []
    real = backends.by_url

    def counting(*args, **kwargs):
        resolved.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(backends, "by_url", counting)
    monkeypatch.setattr(celery_module.app, "_resolved_backend", None, raising=False)
    seen = []

    def in_a_new_thread() -> None:
        seen.append(celery_module.app.backend)

    for _ in range(3):
        thread = threading.Thread(target=in_a_new_thread)
        thread.start()
        thread.join()

    assert len(resolved) == 1
    assert len(seen) == 3
    assert len({type(backend) for backend in seen}) == 1
