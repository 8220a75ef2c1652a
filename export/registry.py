"""The export subsystem's registries: bundle formats, tasks and inference engines. Pure Python, no torch.

Everything modelver knows about a kind of bundle is one :class:`Format`; everything about a
task is one :class:`Task` (its export class, its run-time class, what it cannot be built
into). ``modelver export --list``, ``modelver info``, the exporter, ``load()`` and ``modelver
run`` all read these registries and nothing else, so adding a format or a task is one
registration (see "Extending export" in the README)::

    from modelver_export.registry import Format, Task, register_format, register_task

    register_format(Format(name="toy", model_file="model.toy", writer=write_toy, loader=load_toy,
                           sniff=lambda path: path.read_bytes()[:4] == b"TOY1", needs="onnx"))
    register_task(Task(name="toy_task", exporter=ToyExporter, runtime=ToyRuntime))

Writers, loaders, export and run-time classes may be given as ``"module:attribute"`` strings:
they are imported on first use, so reading the registries imports no torch, onnx or
onnxruntime.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, Callable, Mapping, Union

from modelver.errors import BundleError

__all__ = [
    "CAPABILITIES",
    "Format",
    "Task",
    "format_names",
    "formats",
    "get_engine",
    "get_format",
    "get_task",
    "register_engine",
    "register_format",
    "register_task",
    "support",
    "tasks",
    "unregister",
]

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

    def refusal(self, fmt: Format) -> str | None:
        """Why this task has no ``fmt`` bundle, or None when it has."""
        reason = self.cannot.get(fmt.needs)
        home = _FIRST_USER.get(fmt.needs)
        if reason is None or fmt.name == home:
            return reason
        source = CAPABILITIES[fmt.needs].split(" (")[0]
        return f"{fmt.name} bundles are built from {source}, which this task cannot provide (see {home})"


_FORMATS: dict[str, Format] = {}
_TASKS: dict[str, Task] = {}
_ENGINES: dict[str, Ref] = {}
#: capability → the first format registered that needs it (its refusal reads as the task's own words)
_FIRST_USER: dict[str, str] = {}


def register_format(fmt: Format, *, replace: bool = False) -> Format:
    """Add ``fmt`` (after the built-in ones: ``--format all`` and the tables keep registration order)."""
    if fmt.name in _FORMATS and not replace:
        raise BundleError(f"A bundle format named {fmt.name!r} is already registered.")
    _FORMATS[fmt.name] = fmt
    _FIRST_USER.setdefault(fmt.needs, fmt.name)
    return fmt


def register_task(task: Task, *, replace: bool = False) -> Task:
    if task.name in _TASKS and not replace:
        raise BundleError(f"A task named {task.name!r} is already registered.")
    unknown = set(task.cannot) - set(CAPABILITIES)
    if unknown:
        raise BundleError(f"Task {task.name!r}: unknown capabilities {sorted(unknown)}; see CAPABILITIES.")
    _TASKS[task.name] = task
    return task


def register_engine(name: str, factory: Ref, *, replace: bool = False) -> None:
    """An inference engine for ONNX bundles: ``factory(model_file, options) -> Engine`` (see runtime.engines)."""
    if name in _ENGINES and not replace:
        raise BundleError(f"An engine named {name!r} is already registered.")
    _ENGINES[name] = factory


def unregister(*, format: str | None = None, task: str | None = None, engine: str | None = None) -> None:
    """Remove a registration (tests and plugins that register for a while)."""
    if format is not None:
        fmt = _FORMATS.pop(format)
        if _FIRST_USER.get(fmt.needs) == format:
            del _FIRST_USER[fmt.needs]
    if task is not None:
        del _TASKS[task]
    if engine is not None:
        del _ENGINES[engine]


def formats() -> tuple[Format, ...]:
    return tuple(_FORMATS.values())


def format_names() -> tuple[str, ...]:
    return tuple(_FORMATS)


def get_format(name: str) -> Format:
    fmt = _FORMATS.get(name)
    if fmt is None:
        raise BundleError(f"Unknown format {name!r}; choose from {', '.join(_FORMATS)}.")
    return fmt


def tasks() -> tuple[Task, ...]:
    return tuple(_TASKS.values())


def get_task(name: str | None) -> Task:
    task = _TASKS.get(name) if name is not None else None
    if task is None:
        raise BundleError(f"Unknown task {name!r}; modelver_export knows {', '.join(_TASKS)}.")
    return task


def get_engine(name: str) -> Any:
    if name not in _ENGINES:
        raise BundleError(f"Unknown engine {name!r}; choose from {', '.join(_ENGINES)}.")
    return resolve(_ENGINES[name])


def support(task: str | None) -> dict[str, str | None]:
    """format → None when ``task``'s bundles can be written in it, else why not."""
    if task is None:
        return {fmt: "its weights declare no meta['task']" for fmt in _FORMATS}
    if task not in _TASKS:
        return {fmt: f"unknown task {task!r}" for fmt in _FORMATS}
    spec = _TASKS[task]
    return {name: spec.refusal(fmt) for name, fmt in _FORMATS.items()}


def _register_builtins() -> None:
    from ._builtins import FORMATS, TASKS

    for fmt in FORMATS:
        register_format(fmt)
    for task in TASKS:
        register_task(task)
    register_engine("onnxruntime", "modelver_export.runtime.engines:OnnxRuntimeEngine")


_register_builtins()
