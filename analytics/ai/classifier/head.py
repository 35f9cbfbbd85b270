"""A trained head: its weights and how it was trained, stored as `.npz` bytes (no pickle) named
by their hash, and the predictions it makes over a backend's vectors."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from analytics.ai import backends
from analytics.ai.classifier.examples import MAX_CHARS, Prediction
from analytics.ai.classifier.vectors import _EmbedBackend, one_thread

TOPIC_THRESHOLD = 0.5
MAX_TOPICS = 3


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Head:
    """A trained classifier: backend name, label and topic weights, and how it was trained."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.arrays = arrays
        self.meta = meta
        self.backend_name: str = meta["backend"]
        self.classes = [str(c) for c in arrays["classes"]]
        self.topics = [str(t) for t in arrays["topic_slugs"]]
        self._data = self._serialise()
        self.version = f"{self.backend_name}-{hashlib.sha256(self._data).hexdigest()[:12]}"
        self._backend: Any = None

    # storage
    def _serialise(self) -> bytes:
        buffer = io.BytesIO()
        meta = np.array(json.dumps(self.meta, sort_keys=True))
        np.savez_compressed(buffer, meta=meta, **self.arrays)
        return buffer.getvalue()

    def to_bytes(self) -> bytes:
        return self._data

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "meta"}
            meta = json.loads(str(z["meta"]))
        return cls(arrays, meta)

    # inference
    def backend(self) -> Any:
        if self._backend is None:
            if self.backend_name == "use":
                self._backend = _EmbedBackend()
            elif self.backend_name == "tfidf":
                self._backend = backends.TfidfBackend(
                    self.arrays["tfidf_vocabulary"], self.arrays["tfidf_idf"]
                )
            else:
                raise ValueError(f"unknown backend {self.backend_name!r}")
        return self._backend

    def vectors(self, texts: Sequence[str]) -> Any:
        return self.backend().encode([t[:MAX_CHARS] for t in texts])

    def predict_vectors(self, x: Any) -> list[Prediction]:
        a = self.arrays
        probs = _softmax(np.asarray(x @ a["coef"].T) + a["intercept"])
        out = []
        if self.topics:
            scores = np.asarray(x @ a["topic_coef"].T) + a["topic_intercept"]
            topic_probs = 1.0 / (1.0 + np.exp(-scores))
        for i in range(probs.shape[0]):
            best = int(np.argmax(probs[i]))
            topics: list[str] = []
            if self.topics:
                order = np.argsort(-topic_probs[i])
                topics = [
                    self.topics[j]
                    for j in order[:MAX_TOPICS]
                    if topic_probs[i][j] >= TOPIC_THRESHOLD
                ]
            out.append(Prediction(self.classes[best], round(float(probs[i][best]), 4), topics))
        return out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        with one_thread():
            return self.predict_vectors(self.vectors(texts))
