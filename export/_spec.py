"""What a registration is: :class:`Format` (a kind of bundle) and :class:`Task` (a task's two classes).

Pure Python, no torch; :mod:`modelver_export.registry` holds the registrations.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, Callable, Mapping, Union

from modelver.errors import BundleError

__all__ = ["CAPABILITIES", "Format", "Ref", "Task", "resolve"]

#: What a format's writer builds the bundle from; a task that cannot provide one says why in ``Task.cannot``.
CAPABILITIES = {
    "script": "the task's torch module, scripted (TaskExporter.torch_module, torch.jit.script)",
    "onnx": "the task's ONNX graph (TaskExporter.onnx_model)",
    "torch.export": "the task's torch module, exported (TaskExporter.torch_module, export_args, dynamic_shapes)",
}

Ref = Union[str, Callable[..., Any], type]


def resolve(ref: Ref) -> Any:
    """A ``"module:attribute"`` string imported now, or the object itself."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclasses.dataclass(frozen=True)
class Format:
    """One kind of bundle.

    Attributes:
        name: what ``--format`` takes and ``bundle.json`` records.
        model_file: the model file's path inside the bundle directory.
        writer: ``write(task, meta, directory, options) -> modelver_export.formats.Written``.
        loader: ``load(model_file, options: LoadOptions) -> Loaded`` (meta, runner, engine label).
        sniff: ``sniff(model_file) -> bool``: does the file hold this format's bytes (magic numbers,
            archive layout)? A file is loaded only as what it really is, whatever its name or
            its manifest claims.
        needs: the capability the writer builds on (a key of :data:`CAPABILITIES`).
        carries_code: loading it runs code from the file (TorchScript, pickles): ``load`` then
            requires ``trust_code=True`` (``modelver run --trust``).
        layout: the bundle directory under ``--out``; ``{format}`` and ``{name}`` (the builder) are filled in.
        description: one line for ``--help`` and the README.
        versioned: the bundle directory holds numbered versions (``N/``, ``versions.json``; see
            :mod:`modelver_export.triton_repo`): each export of another weights entry is written as
            version ``1`` of a staging directory, checked there, then added as the next number;
            an existing version is never rewritten. ``model_file`` is the staged one (``1/...``).
    """

    name: str
    model_file: str
    writer: Ref
    loader: Ref
    sniff: Callable[[Path], bool]
    needs: str
    carries_code: bool = False
    layout: str = "{format}"
    description: str = ""
    versioned: bool = False

    def __post_init__(self) -> None:
        if self.needs not in CAPABILITIES:
            raise BundleError(f"Format {self.name!r} needs {self.needs!r}; choose one of {', '.join(CAPABILITIES)}.")

    def directory(self, out: Path, name: str) -> Path:
        return Path(out) / self.layout.format(format=self.name, name=name)

    def write(self, task: Any, meta: Mapping[str, Any], directory: Path, options: dict[str, Any]) -> Any:
        return resolve(self.writer)(task, meta, directory, options)

    def load(self, model_file: Path, options: Any) -> Any:
        return resolve(self.loader)(model_file, options)


@dataclasses.dataclass(frozen=True)
class Task:
    """One task (``weights.meta["task"]``): how to export it and how to run its bundles.

    Attributes:
        name: the task, as the weights' meta and the bundle's manifest say it.
        exporter: a :class:`modelver_export.tasks.TaskExporter` subclass (torch; export side).
        runtime: a :class:`modelver_export.runtime.TaskRuntime` subclass (no torch; run side).
        cannot: capability → why this task cannot provide it (found by trying); the formats
            that need it are refused with that reason.
    """

    name: str
    exporter: Ref
    runtime: Ref
    cannot: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def exporter_class(self) -> Any:
        return resolve(self.exporter)

    def runtime_class(self) -> Any:
        return resolve(self.runtime)
