"""For tests about what Django compiles: a statement kept compiled must not be compiled again."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models.sql.compiler import SQLCompiler


def compiled_models(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """From now on, the model of every query Django compiles (`SQLCompiler.as_sql`), in order."""
    compiled: list[type] = []
    original = SQLCompiler.as_sql

    def counting(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        compiled.append(self.query.model)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    return compiled
