"""Keeping the roll-ups: per-conversation facts, then hourly sums. Every write of the
statistics tables happens here.

- `facts_refresh(conversation_ids)` recomputes the facts of some conversations and returns
  the UTC hours whose figures that changed;
- `rollup_hours(hours)` replaces the hourly rows of those hours from the facts (chats,
  activity, CSAT) and from `telephony.Call` (calls, when it exists);
- `rollup_incremental()` is the periodic task: what changed since the watermark;
- `rollup_rebuild()` is `manage.py analytics_rebuild`: everything, from the records;
- `presence_sample()` adds one minute of operator presence, at most once a minute.

Runs are serialised by the row lock of `RollupState`; replacing an hour is one transaction,
so a reader sees an hour before or after, never half of it.

- `facts`: `facts_refresh` and the hours a fact covers;
- `hours`: `rollup_hours`, the chat, activity and call rows of an hour, `call_rows`;
- `runs`: `rollup_incremental` and `rollup_rebuild`;
- `presence`: `presence_sample`.
"""

from analytics.rollups.facts import facts_refresh
from analytics.rollups.hours import call_rows, rollup_hours
from analytics.rollups.presence import presence_sample
from analytics.rollups.runs import OVERLAP, rollup_incremental, rollup_rebuild

__all__ = [
    "OVERLAP",
    "call_rows",
    "facts_refresh",
    "presence_sample",
    "rollup_hours",
    "rollup_incremental",
    "rollup_rebuild",
]
