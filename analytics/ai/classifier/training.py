"""Training a head: logistic regressions (scikit-learn) over the backend's vectors, one for the
label and one per topic; the default head, trained on the seed set alone."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from analytics.ai import backends
from analytics.ai.classifier.examples import (
    DEFAULT_HEAD_FILE,
    MAX_CHARS,
    MIN_TOPIC_EXAMPLES,
    SEED_FILE,
    Example,
    load_examples,
    seed_digest,
)
from analytics.ai.classifier.head import Head
from analytics.ai.classifier.vectors import embed, one_thread

C = 4.0  # inverse regularisation of every head (chosen on the seed's cross-validation)


def _fit_lr(x: Any, y: np.ndarray, weights: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
    return model.fit(x, y, sample_weight=weights)


def _vectors_for(backend_name: str, texts: list[str]) -> tuple[Any, dict[str, np.ndarray]]:
    if backend_name == "use":
        return embed(texts), {}
    if backend_name == "tfidf":
        tfidf = backends.TfidfBackend().fit(texts)
        return tfidf.encode(texts), tfidf.state()
    raise ValueError(f"unknown backend {backend_name!r}; one of {backends.BACKENDS}")


def fit_head(
    x: Any, examples: Sequence[Example], backend_name: str, extra: dict[str, np.ndarray]
) -> Head:
    labels = np.array([e.label for e in examples])
    weights = np.array([e.weight for e in examples], dtype=np.float64)
    model = _fit_lr(x, labels, weights)
    coef, intercept = model.coef_, model.intercept_
    if coef.shape[0] == 1:  # two classes only: sklearn keeps one row; make it a softmax pair
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    counts: dict[str, int] = {}
    for e in examples:
        for t in set(e.topics):
            counts[t] = counts.get(t, 0) + 1
    slugs = sorted(t for t, n in counts.items() if n >= MIN_TOPIC_EXAMPLES)
    dim = coef.shape[1]
    topic_coef = np.zeros((len(slugs), dim), dtype=np.float32)
    topic_intercept = np.zeros(len(slugs), dtype=np.float32)
    for i, slug in enumerate(slugs):
        y = np.array([slug in e.topics for e in examples])
        m = _fit_lr(x, y, weights)
        topic_coef[i] = m.coef_[0]
        topic_intercept[i] = m.intercept_[0]
    arrays = {
        "classes": np.array(model.classes_),
        "coef": coef.astype(np.float32),
        "intercept": intercept.astype(np.float32),
        "topic_slugs": np.array(slugs, dtype=str),
        "topic_coef": topic_coef,
        "topic_intercept": topic_intercept,
        **extra,
    }
    by_lang: dict[str, int] = {}
    for e in examples:
        by_lang[e.lang or "?"] = by_lang.get(e.lang or "?", 0) + 1
    meta = {"backend": backend_name, "examples": len(examples), "by_lang": by_lang}
    return Head(arrays, meta)


def train(
    examples: Sequence[Example], backend_name: str = "use", meta: dict[str, Any] | None = None
) -> Head:
    if len({e.label for e in examples}) < 2:
        raise ValueError("training needs examples of at least two labels")
    with one_thread():
        x, extra = _vectors_for(backend_name, [e.text[:MAX_CHARS] for e in examples])
        head = fit_head(x, examples, backend_name, extra)
    if meta:
        head = Head(head.arrays, {**head.meta, **meta})
    return head


def train_default(backend_name: str = "use") -> Head:
    return train(load_examples(SEED_FILE), backend_name, {"seed_sha256": seed_digest()})


_default: dict[str, Head] = {}
_default_lock = threading.Lock()


def default_head(backend_name: str = "use") -> Head:
    """The model trained on the seed set alone: the shipped file when it was trained on the seed
    as it is now, otherwise trained here (deterministic; a few seconds)."""
    with _default_lock:
        head = _default.get(backend_name)
        if head is None:
            head = None
            if backend_name == "use" and DEFAULT_HEAD_FILE.is_file():
                shipped = Head.from_bytes(DEFAULT_HEAD_FILE.read_bytes())
                if shipped.meta.get("seed_sha256") == seed_digest():
                    head = shipped
            if head is None:
                head = train_default(backend_name)
            _default[backend_name] = head
        return head
