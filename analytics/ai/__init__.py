"""AI analytics on the CPU, offline (issue 14): docs/ai.md."""
