"""The one way a service changes some fields of a row it holds (HackSoft's `model_update`).

`instance.save(update_fields=[...])` with a hand-written list forgets a field as easily as it
names one, and forgets `updated_at` most of all (Django updates an `auto_now` field only when
it is named). `model_update` sets the fields, saves exactly those plus the model's `auto_now`
fields, and says which it saved.
"""

from __future__ import annotations

from typing import Any

from django.db import models


def model_update(
    instance: models.Model, /, *, using: str | None = None, **fields: Any
) -> list[str]:
    """Set `fields` on `instance` and save them (and its `auto_now` fields) in one UPDATE.

    Every named field is written, changed or not: the caller holds the row (usually locked),
    and a value equal in memory may still differ in the database. Returns the saved names.
    """
    if not fields:
        raise ValueError("model_update needs at least one field")
    concrete = instance._meta.concrete_fields
    by_name = {field.name: field for field in concrete}
    by_name.update({field.attname: field for field in concrete})
    names: list[str] = []
    for name, value in fields.items():
        field = by_name.get(name)
        if field is None or field.primary_key:
            raise ValueError(f"{type(instance).__name__} has no updatable field {name!r}")
        setattr(instance, name, value)
        names.append(field.name)
    names.extend(
        field.name
        for field in concrete
        if getattr(field, "auto_now", False) and field.name not in names
    )
    instance.save(update_fields=names, using=using)
    return names
