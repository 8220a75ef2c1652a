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

from typing import Any

from modelver.errors import BundleError

from ._builtins import FORMATS as _BUILTIN_FORMATS
from ._builtins import TASKS as _BUILTIN_TASKS
from ._spec import CAPABILITIES, Format, Ref, Task, resolve

__all__ = [
    "CAPABILITIES",
    "Format",
    "Task",
    "engine_names",
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

_FORMATS: dict[str, Format] = {}
_TASKS: dict[str, Task] = {}
_ENGINES: dict[str, Ref] = {}


def register_format(fmt: Format, *, replace: bool = False) -> Format:
    """Add ``fmt`` (after the built-in ones: ``--format all`` and the tables keep registration order)."""
    if fmt.name in _FORMATS and not replace:
        raise BundleError(f"A bundle format named {fmt.name!r} is already registered.")
    _FORMATS[fmt.name] = fmt
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
        del _FORMATS[format]
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


def engine_names() -> tuple[str, ...]:
    return tuple(_ENGINES)


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
    return {name: _refusal(_TASKS[task], fmt) for name, fmt in _FORMATS.items()}


def _refusal(task: Task, fmt: Format) -> str | None:
    """Why ``task`` has no ``fmt`` bundle (None when it has): the task's own words for the first format
    that needs the capability, a pointer to them for the others (Triton: "see onnx")."""
    reason = task.cannot.get(fmt.needs)
    home = next(name for name, other in _FORMATS.items() if other.needs == fmt.needs)
    if reason is None or fmt.name == home:
        return reason
    source = CAPABILITIES[fmt.needs].split(" (")[0]
    return f"built from {source}, which this task cannot provide (see {home})"


for _format in _BUILTIN_FORMATS:
    register_format(_format)
for _task in _BUILTIN_TASKS:
    register_task(_task)
register_engine("onnxruntime", "modelver_export.runtime.engines:OnnxRuntimeEngine")
register_engine("openvino", "modelver_export.runtime.openvino:OpenVINOEngine")
