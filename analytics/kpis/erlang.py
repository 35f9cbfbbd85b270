"""Erlang C: the chance a call waits, the service level, and the agents a target needs."""

from __future__ import annotations


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (Erlang C), `traffic` in Erlangs (arrival rate × handle
    time). 1.0 when the agents cannot carry the traffic."""
    if agents <= traffic:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def erlang_service_level(
    agents: int, *, calls_per_hour: float, handle_seconds: float, target_seconds: float
) -> float:
    """Share of calls answered within `target_seconds` with `agents` agents."""
    import math

    if calls_per_hour <= 0:
        return 1.0
    traffic = calls_per_hour * handle_seconds / 3600.0
    if agents <= traffic:
        return 0.0
    pw = erlang_c(agents, traffic)
    return 1.0 - pw * math.exp(-(agents - traffic) * target_seconds / handle_seconds)


def agents_needed(
    *,
    calls_per_hour: float,
    handle_seconds: float,
    target_seconds: float,
    target_level: float,
    max_agents: int = 2000,
) -> int:
    """The fewest agents reaching `target_level` (e.g. 0.8) within `target_seconds`."""
    if calls_per_hour <= 0 or handle_seconds <= 0:
        return 0
    traffic = calls_per_hour * handle_seconds / 3600.0
    agents = max(1, int(traffic))
    while agents < max_agents:
        level = erlang_service_level(
            agents,
            calls_per_hour=calls_per_hour,
            handle_seconds=handle_seconds,
            target_seconds=target_seconds,
        )
        if level >= target_level:
            return agents
        agents += 1
    return max_agents
