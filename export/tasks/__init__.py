"""Task exporters, keyed by ``weights.meta["task"]``, and which formats each builder supports.

To add a task: write a :class:`~modelver_export.tasks._base.TaskExporter` subclass in a module of
this package and name it in ``EXPORTERS``; remove the task from ``NOT_YET``. A format the
task cannot have gets its reason in :mod:`modelver_export.tasks._unsupported` (shown by ``modelver
export --list``, ``modelver info`` and the refusal).

Importing this module imports no torch: ``modelver info`` reads the table through it.
"""

from __future__ import annotations

import importlib
from typing import Any

from modelver.errors import BundleError

from .._bundle import FORMATS
from ._unsupported import UNSUPPORTED

__all__ = ["EXPORTERS", "NOT_YET", "exporter_class", "formats_for_task", "builder_support", "support_table"]

#: task → ("module:Class" imported only when exporting, so the support table stays cheap; its formats)
EXPORTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "image_classification": ("modelver_export.tasks.image_classification:ImageClassificationExporter", FORMATS),
    "sentence_embedding": ("modelver_export.tasks.text:SentenceEmbeddingExporter", FORMATS),
    "text_encoding": ("modelver_export.tasks.text:TextEncodingExporter", FORMATS),
    "text_classification": ("modelver_export.tasks.text:TextClassificationExporter", FORMATS),
    "text_to_mel": ("modelver_export.tasks.speech:TextToMelExporter", ("torchscript",)),
    "vocoder": ("modelver_export.tasks.speech:VocoderExporter", ("torchscript",)),
    "text_to_speech": ("modelver_export.tasks.speech:TextToSpeechExporter", ("torchscript",)),
    "object_detection": ("modelver_export.tasks.object_detection:ObjectDetectionExporter", ("torchscript", "onnx", "triton")),
}

#: tasks modelver has models for but no exporter yet, with what is missing
NOT_YET: dict[str, str] = {}


def formats_for_task(task: str | None) -> dict[str, str | None]:
    """format → None when supported, else why not."""
    if task in EXPORTERS:
        supported = EXPORTERS[task][1]
        reasons = UNSUPPORTED.get(task, {})
        return {
            fmt: None if fmt in supported else reasons.get(fmt, f"{task} bundles have no {fmt} writer yet")
            for fmt in FORMATS
        }
    if task in NOT_YET:
        return {fmt: f"{task}: {NOT_YET[task]}" for fmt in FORMATS}
    if task is None:
        return {fmt: "its weights declare no meta['task']" for fmt in FORMATS}
    return {fmt: f"unknown task {task!r}" for fmt in FORMATS}


def exporter_class(task: str | None) -> Any:
    if task not in EXPORTERS:
        reason = formats_for_task(task)[FORMATS[0]]
        raise BundleError(f"Cannot export this model: {reason}.")
    module, _, name = EXPORTERS[task][0].partition(":")
    return getattr(importlib.import_module(module), name)


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
    from modelver import get_model_weights
    from modelver.errors import UnknownWeightsError

    try:
        get_model_weights(name)
    except UnknownWeightsError:
        reason = (
            f"no weights entry of its own; export_model({name!r}, weights=modelver.Weights(...)) exports a checkpoint "
            f"whose meta['task'] is one of {', '.join(EXPORTERS)}"
        )
        return None, {fmt: reason for fmt in FORMATS}
    task = builder_task(name)
    return task, formats_for_task(task)


def support_table(names: list[str] | None = None) -> list[tuple[str, str | None, dict[str, str | None]]]:
    """(builder, task, {format: None or reason}) for every registered builder (or ``names``)."""
    from modelver import list_models

    return [(name, *builder_support(name)) for name in (names if names is not None else list_models())]
