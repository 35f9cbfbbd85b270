"""The conversation classifier: a text → vector backend plus a trained head, no database.

The head is two sets of logistic regressions (scikit-learn) over the backend's vectors: one
multinomial model for the label (complaint / order / consultation) and one one-vs-rest model
per topic. It is saved as a small `.npz` (no pickle), named by the hash of its bytes: that name
is the model version stored with every classification.

`train()` is deterministic on one machine: the same examples give the same bytes, hence the same
version. Another CPU may differ in the last float digits (about 1e-5), hence another version
for equivalent weights; the shipped default head is what production loads, never a retrain.
docs/ai.md, "Classification".

- `examples`: labels, labelled examples, the shipped seed and held-out sets, seed topics;
- `vectors`: the sentence encoder's vectors (memoised) and BLAS on one thread;
- `head`: `Head`, its storage as bytes and its predictions;
- `training`: `train`, `fit_head` and the default head trained on the seed set;
- `measuring`: `evaluate`, `cross_validate`, `topic_recall`.
"""

from analytics.ai.classifier.examples import (
    DEFAULT_HEAD_FILE,
    HELDOUT_FILE,
    LABELS,
    LANGS,
    MAX_CHARS,
    SEED_FILE,
    Example,
    Prediction,
    load_examples,
    seed_digest,
    seed_topics,
)
from analytics.ai.classifier.head import Head
from analytics.ai.classifier.measuring import cross_validate, evaluate, scores, topic_recall
from analytics.ai.classifier.training import default_head, fit_head, train, train_default
from analytics.ai.classifier.vectors import embed, one_thread

__all__ = [
    "DEFAULT_HEAD_FILE",
    "HELDOUT_FILE",
    "LABELS",
    "LANGS",
    "MAX_CHARS",
    "SEED_FILE",
    "Example",
    "Head",
    "Prediction",
    "cross_validate",
    "default_head",
    "embed",
    "evaluate",
    "fit_head",
    "load_examples",
    "one_thread",
    "scores",
    "seed_digest",
    "seed_topics",
    "topic_recall",
    "train",
    "train_default",
]
