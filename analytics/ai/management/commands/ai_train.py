"""`python manage.py ai_train [--report]`: rebuild the classifier from the seed set plus
operators' corrections, print cross-validated and held-out figures, activate the model.
docs/ai.md"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


def _line(name: str, s: dict[str, float]) -> str:
    return (
        f"  {name:<4} macro-F1 {s['macro_f1']:.3f}  complaint recall "
        f"{s['complaint_recall']:.3f}  (n={s['n']})"
    )


class Command(BaseCommand):
    help = "Train the conversation classifier from the seed set and operators' corrections."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--report",
            action="store_true",
            help="Also train on the English seed examples only and score the Russian held-out.",
        )
        parser.add_argument(
            "--backend", choices=("use", "tfidf"), help="Override AI_CLASSIFIER_BACKEND."
        )
        parser.add_argument(
            "--no-save", action="store_true", help="Measure only; store and activate nothing."
        )
        parser.add_argument(
            "--write-default",
            action="store_true",
            help="Write the seed-only model to analytics/ai/data/default_head.npz (maintainers).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django.test.utils import override_settings

        from analytics.ai import classification, classifier

        backend = options["backend"] or classification.backend_name()
        with override_settings(AI_CLASSIFIER_BACKEND=backend):
            self._run(classification, classifier, backend, options)

    def _run(self, classification: Any, classifier: Any, backend: str, options: Any) -> None:
        out = self.stdout
        started = time.monotonic()
        examples, n_corrections = classification.training_examples()
        heldout = classifier.load_examples(classifier.HELDOUT_FILE)
        out.write(
            f"backend {backend}: {len(examples)} training examples "
            f"({n_corrections} operator corrections), {len(heldout)} held-out"
        )
        cv = classifier.cross_validate(examples, backend)
        out.write("cross-validated (5 folds):")
        for key in ("all", "ru", "en"):
            out.write(_line(key, cv[key]))
        head = classifier.train(examples, backend, {"corrections": n_corrections})
        held = classifier.evaluate(head, heldout)
        out.write(f"held-out ({head.version}):")
        for key in ("all", "ru", "en"):
            out.write(_line(key, held[key]))
        metrics: dict[str, Any] = {"cross_validated": cv, "heldout": held}
        if options["report"]:
            english = [e for e in examples if e.lang == "en"]
            en_head = classifier.train(english, backend)
            russian = [e for e in heldout if e.lang == "ru"]
            transfer = classifier.evaluate(en_head, russian)["ru"]
            metrics["en_only_to_ru"] = transfer
            out.write("trained on English seeds only, scored on the Russian held-out:")
            out.write(_line("ru", transfer))
        if options["write_default"]:
            default = classifier.train_default(backend)
            classifier.DEFAULT_HEAD_FILE.write_bytes(default.to_bytes())
            out.write(f"wrote {classifier.DEFAULT_HEAD_FILE} ({default.version})")
        if not options["no_save"]:
            artifact = classification.model_retrain(metrics=metrics)
            out.write(f"active model: {artifact.version}")
        out.write(f"done in {time.monotonic() - started:.1f} s")
