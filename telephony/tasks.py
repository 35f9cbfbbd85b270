"""Telephony tasks: adapters that take ids and call one service."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from celery import shared_task

from telephony import services
from telephony.ami import AmiError, ami_originate
from telephony.models import Call, Pbx

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def call_wrapup_release(call_id: int) -> bool:
    """The wrap-up countdown of one call; a no-op if it is not due yet or already released
    (the sweep below catches any countdown the broker lost)."""
    return services.call_wrapup_release(call_id=call_id)


@shared_task
def calls_sweep() -> dict[str, int]:
    return {
        "wrapups_released": services.calls_release_due_wrapups(),
        "stale_closed": services.calls_close_stale(),
    }


@shared_task(acks_late=False)  # an Originate must never be sent twice: at most once
def call_originate_send(request: dict[str, Any]) -> str:
    """Send the AMI Originate of a click-to-call; a refusal is reported to the operator."""
    req = services.OriginateRequest(**request)
    call = Call.objects.filter(pk=req.call_id).values("state", "originated_by_id").first()
    pbx = Pbx.objects.filter(pk=req.pbx_id).first()
    if call is None or pbx is None or call["state"] != Call.State.RINGING:
        return "gone"
    fields = services.originate_fields(
        req, context=pbx.originate_context, user_id=call["originated_by_id"] or 0
    )
    try:
        asyncio.run(
            ami_originate(
                host=pbx.host,
                port=pbx.port,
                username=pbx.username,
                secret=pbx.secret,
                fields=fields,
            )
        )
    except (AmiError, OSError) as error:
        logger.warning("click-to-call %s failed: %s", req.call_id, error)
        services.call_originate_failed(call_id=req.call_id, reason=services.FailReason.PBX)
        return "failed"
    return "queued"
