"""The export datasets, one module each, and `DATASETS`: every dataset by its name."""

from __future__ import annotations

from analytics.exports.dataset import Dataset
from analytics.exports.datasets.calls import Calls
from analytics.exports.datasets.conversations import Conversations
from analytics.exports.datasets.events import Events
from analytics.exports.datasets.hourly import Hourly
from analytics.exports.datasets.messages import Messages
from analytics.exports.datasets.operators import Operators

DATASETS: dict[str, Dataset] = {
    d.name: d for d in (Conversations(), Events(), Messages(), Calls(), Hourly(), Operators())
}

__all__ = ["DATASETS", "Calls", "Conversations", "Events", "Hourly", "Messages", "Operators"]
