"""Text to vectors: the shared sentence encoder, memoised per process, on one BLAS thread."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from analytics.ai import backends

_controller: Any = None


def one_thread() -> Any:
    """BLAS on one thread: a worker's share of a small CPU. With the default (a thread per
    core) small matrix products wait on each other: training took 20× longer on two busy
    cores."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 20_000


def embed(texts: Sequence[str]) -> np.ndarray:
    """USE vectors, memoised per process (training re-reads the same seed texts)."""
    backend = backends.shared_use()
    with _cache_lock:
        missing = list(OrderedDict.fromkeys(t for t in texts if t not in _cache))
    if missing:
        # One text per call: the encoder sums a batch's tokens in one pass, so a text's vector
        # would depend (in the last bits) on its batch neighbours, and training would not be
        # reproducible. Serving classifies one conversation at a time anyway.
        vectors = [backend.encode([t])[0] for t in missing]
        with _cache_lock:
            for text, vector in zip(missing, vectors, strict=True):
                _cache[text] = vector
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    with _cache_lock:
        found = [_cache.get(t) for t in texts]
    if any(v is None for v in found):  # evicted meanwhile: encode directly
        return np.stack([backend.encode([t])[0] for t in texts])
    return np.stack(found) if found else np.zeros((0, 512), dtype=np.float32)


class _EmbedBackend:
    name = "use"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return embed(texts)
