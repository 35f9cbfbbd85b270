"""The conversation classifier: a text → vector backend plus a trained head, no database.

The head is two sets of logistic regressions (scikit-learn) over the backend's vectors: one
multinomial model for the label (complaint / order / consultation) and one one-vs-rest model
per topic. It is saved as a small `.npz` (no pickle), named by the hash of its bytes: that name
is the model version stored with every classification.

`train()` is deterministic on one machine: the same examples give the same bytes, hence the same
version. Another CPU may differ in the last float digits (about 1e-5), hence another version
for equivalent weights; the shipped default head is what production loads, never a retrain.
docs/ai.md, "Classification".
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analytics.ai import backends

LABELS = ("complaint", "order", "consultation")
LANGS = ("ru", "en")
DATA_DIR = Path(__file__).resolve().parent / "data"
SEED_FILE = DATA_DIR / "seed.jsonl"
HELDOUT_FILE = DATA_DIR / "heldout.jsonl"
DEFAULT_HEAD_FILE = DATA_DIR / "default_head.npz"

C = 4.0  # inverse regularisation of every head (chosen on the seed's cross-validation)
MIN_TOPIC_EXAMPLES = 3  # a topic is learnt once it has this many examples
TOPIC_THRESHOLD = 0.5
MAX_TOPICS = 3
MAX_CHARS = 2000  # the text a conversation is classified on (its first customer messages)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str = ""
    topics: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    topics: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": self.confidence, "topics": self.topics}


def load_examples(path: Path) -> list[Example]:
    """A labelled JSON-lines file: {"text", "lang", "label", "topics"} per line."""
    examples = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if row["label"] not in LABELS:
                raise ValueError(f"{path}: unknown label {row['label']!r}")
            examples.append(
                Example(
                    text=row["text"],
                    label=row["label"],
                    lang=row.get("lang", ""),
                    topics=tuple(row.get("topics") or ()),
                )
            )
    return examples


def seed_digest() -> str:
    return hashlib.sha256(SEED_FILE.read_bytes()).hexdigest()


_seed_topics: dict[str, frozenset[str]] = {}


def seed_topics() -> set[str]:
    """The topics the seed set teaches (those with `MIN_TOPIC_EXAMPLES`), read without training:
    the default model's topics."""
    digest = seed_digest()
    topics = _seed_topics.get(digest)
    if topics is None:
        counts: dict[str, int] = {}
        for example in load_examples(SEED_FILE):
            for topic in set(example.topics):
                counts[topic] = counts.get(topic, 0) + 1
        topics = frozenset(t for t, n in counts.items() if n >= MIN_TOPIC_EXAMPLES)
        _seed_topics.clear()
        _seed_topics[digest] = topics
    return set(topics)


# --- threads -------------------------------------------------------------------------------

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


# --- vectors -------------------------------------------------------------------------------

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


# --- the head ------------------------------------------------------------------------------


def _fit_lr(x: Any, y: np.ndarray, weights: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
    return model.fit(x, y, sample_weight=weights)


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


class _EmbedBackend:
    name = "use"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return embed(texts)


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


# --- measuring -----------------------------------------------------------------------------


def scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import f1_score, recall_score

    if not truth:
        return {"macro_f1": float("nan"), "complaint_recall": float("nan"), "n": 0}
    return {
        "macro_f1": float(f1_score(truth, predicted, labels=list(LABELS), average="macro")),
        "complaint_recall": float(
            recall_score(truth, predicted, labels=["complaint"], average="macro", zero_division=0)
        ),
        "n": len(truth),
    }


def evaluate(head: Head, examples: Sequence[Example]) -> dict[str, dict[str, float]]:
    """Macro-F1 and complaint recall overall and per language."""
    predicted = [p.label for p in head.predict([e.text for e in examples])]
    truth = [e.label for e in examples]
    out = {"all": scores(truth, predicted)}
    for lang in LANGS:
        idx = [i for i, e in enumerate(examples) if e.lang == lang]
        out[lang] = scores([truth[i] for i in idx], [predicted[i] for i in idx])
    return out


def cross_validate(
    examples: Sequence[Example], backend_name: str = "use", folds: int = 5
) -> dict[str, dict[str, float]]:
    """Out-of-fold predictions (stratified by label and language, fixed seed) scored per
    language."""
    with one_thread():
        return _cross_validate(examples, backend_name, folds)


def _cross_validate(
    examples: Sequence[Example], backend_name: str, folds: int
) -> dict[str, dict[str, float]]:
    from sklearn.model_selection import StratifiedKFold

    strata = np.array([f"{e.label}:{e.lang}" for e in examples])
    texts = [e.text[:MAX_CHARS] for e in examples]
    x_all = embed(texts) if backend_name == "use" else None
    predicted: list[str] = [""] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_idx, test_idx in splitter.split(np.zeros(len(examples)), strata):
        part = [examples[i] for i in train_idx]
        if x_all is not None:
            head = fit_head(x_all[train_idx], part, backend_name, {})
            preds = head.predict_vectors(x_all[test_idx])
        else:
            head = train(part, backend_name)
            preds = head.predict([texts[i] for i in test_idx])
        for i, p in zip(test_idx, preds, strict=True):
            predicted[i] = p.label
    truth = [e.label for e in examples]
    out = {"all": scores(truth, predicted)}
    for lang in LANGS:
        idx = [i for i, e in enumerate(examples) if e.lang == lang]
        out[lang] = scores([truth[i] for i in idx], [predicted[i] for i in idx])
    return out


def topic_recall(head: Head, texts: Iterable[str], topic: str) -> float:
    texts = list(texts)
    hits = sum(topic in p.topics for p in head.predict(texts))
    return hits / len(texts) if texts else float("nan")


# --- the default model ---------------------------------------------------------------------


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
