"""Measuring a head: macro-F1 and complaint recall overall and per language, on a held-out set
or by cross-validation, and the recall of one topic."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from analytics.ai.classifier.examples import LABELS, LANGS, MAX_CHARS, Example
from analytics.ai.classifier.head import Head
from analytics.ai.classifier.training import fit_head, train
from analytics.ai.classifier.vectors import embed, one_thread


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


def _scores_by_lang(
    examples: Sequence[Example], predicted: Sequence[str]
) -> dict[str, dict[str, float]]:
    """`scores` of the predicted labels against the examples' overall and per language."""
    truth = [e.label for e in examples]
    out = {"all": scores(truth, predicted)}
    for lang in LANGS:
        idx = [i for i, e in enumerate(examples) if e.lang == lang]
        out[lang] = scores([truth[i] for i in idx], [predicted[i] for i in idx])
    return out


def evaluate(head: Head, examples: Sequence[Example]) -> dict[str, dict[str, float]]:
    """Macro-F1 and complaint recall overall and per language."""
    return _scores_by_lang(examples, [p.label for p in head.predict([e.text for e in examples])])


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
    return _scores_by_lang(examples, predicted)


def topic_recall(head: Head, texts: Iterable[str], topic: str) -> float:
    texts = list(texts)
    hits = sum(topic in p.topics for p in head.predict(texts))
    return hits / len(texts) if texts else float("nan")
