"""Which builders export to which formats, and why not: ``modelver export --list``, ``modelver info``, the README.

Reads :mod:`modelver_export.registry` and each builder's weights meta; imports no torch.
"""

from __future__ import annotations

from . import registry

__all__ = ["builder_support", "builder_task", "support_table"]


def builder_task(name: str) -> str | None:
    """The task of a builder's weights (DEFAULT's, else the first entry's), None without weights."""
    from modelver import get_model_builder, get_model_weights
    from modelver.errors import UnknownWeightsError

    builder = get_model_builder(name)
    try:
        enum = get_model_weights(builder)
    except UnknownWeightsError:
        return None
    members = list(enum.__members__.values())
    if not members:
        return None
    entry = enum.__members__.get("DEFAULT", members[0])
    return entry.meta.get("task")


def builder_support(name: str) -> tuple[str | None, dict[str, str | None]]:
    """(task, {format: None or why not}) of builder ``name``."""
    from modelver import get_model_weights
    from modelver.errors import UnknownWeightsError

    try:
        released = len(get_model_weights(name)) > 0  # an empty enum (torchvision's convention): nothing released
    except UnknownWeightsError:
        released = False
    if not released:
        known = ", ".join(t.name for t in registry.tasks())
        reason = (
            f"no weights entry of its own; export_model({name!r}, weights=modelver.Weights(...)) exports a checkpoint "
            f"whose meta['task'] is one of {known}"
        )
        return None, {fmt: reason for fmt in registry.format_names()}
    task = builder_task(name)
    return task, registry.support(task)


def support_table(names: list[str] | None = None) -> list[tuple[str, str | None, dict[str, str | None]]]:
    """(builder, task, {format: None or reason}) for every registered builder (or ``names``)."""
    from modelver import list_models

    return [(name, *builder_support(name)) for name in (names if names is not None else list_models())]
