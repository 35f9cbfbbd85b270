"""AI analytics on the CPU, offline: docs/ai.md."""
