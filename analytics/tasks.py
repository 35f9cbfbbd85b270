"""Celery adapters for the statistics: they take ids and are safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from analytics import csat, exports, rollups


@shared_task(ignore_result=True, acks_late=True)
def rollup_tick() -> dict[str, Any]:
    """Every minute (beat): a minute of operator presence, then the incremental roll-up."""
    sampled = rollups.presence_sample()
    result = rollups.rollup_incremental()
    return {"presence": sampled, **result}


@shared_task(ignore_result=True, acks_late=True)
def request_csat(conversation_id: int) -> str:
    survey = csat.csat_request(conversation_id=conversation_id)
    return survey.delivery if survey is not None else "skipped"


@shared_task(ignore_result=True, acks_late=True, time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def run_export(job_id: int) -> str:
    """Build one export file; a job already running or finished is left alone."""
    return exports.export_job_run(job_id=job_id)


# --- AI: summaries, trends and anomalies (docs/ai.md) -----------------------------------------


@shared_task(ignore_result=True, acks_late=True)
def store_summary(conversation_id: int) -> str:
    """After a close: the conversation's summary stored for the record (rewritten if reclosed)."""
    from analytics.ai.handover import conversation_summary_store

    row = conversation_summary_store(conversation_id=conversation_id)
    return row.source if row is not None else "skipped"


@shared_task(ignore_result=True, acks_late=True)
def anomaly_check() -> int:
    """Every few minutes (beat): contacts per hour and segment against their seasonal
    baseline; one alert per spike. Idempotent (one alert per segment and cooldown)."""
    from analytics.ai.trends import anomaly_check as check

    return len(check())


@shared_task(ignore_result=True, acks_late=True)
def send_anomaly_webhook(alert_id: int) -> str:
    from analytics.ai.trends import anomaly_webhook_send

    return anomaly_webhook_send(alert_id=alert_id)
