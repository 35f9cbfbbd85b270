"""Celery tasks of the classifier: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from analytics.ai import classification


@shared_task(name="analytics.ai.classify_conversation", ignore_result=True)
def classify_conversation(conversation_id: int, stage: str = "first") -> None:
    classification.classification_run(conversation_id=conversation_id, stage=stage)


@shared_task(name="analytics.ai.retrain_classifier", ignore_result=True)
def retrain_classifier() -> None:
    """Nightly: retrain from the seed set and operators' corrections, when there are new ones."""
    classification.model_retrain_if_corrected()
