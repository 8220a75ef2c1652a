"""``load(path)``: a bundle directory or model file → a checked, runnable :class:`Bundle` (no torch for ONNX).

What ``load`` refuses, each with one :class:`~modelver.errors.BundleError` line: a missing
file, a manifest whose sha256 or sizes do not match, a file that is not what its manifest
or suffix claims (sniffed from its bytes), a format that carries code (TorchScript,
``.pt2``) without ``trust_code=True``, a truncated or corrupted model, edited meta.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from modelver.errors import BundleError

from .. import registry
from .._bundle import MANIFEST, read_manifest, verify_files
from .inputs import check_input, validate_specs
from .loaders import LoadOptions, Runner
from .meta import validate_meta
from .task import TaskRuntime

__all__ = ["Bundle", "load"]


class Bundle:
    """A loaded bundle: its meta, its input/output specs, ``run``, and its task's methods.

    The task's methods (``predict_image``, ``detect``, ``embed``, ``classify_text``,
    ``synthesize``, ...) come from the task's run-time class (:attr:`task_runtime`), found
    through :mod:`modelver_export.registry` from the meta's ``task``.
    """

    def __init__(
        self,
        path: Path,
        fmt: str,
        model_file: Path,
        meta: dict[str, Any],
        manifest: dict[str, Any] | None,
        runner: Runner,
        engine: str,
    ) -> None:
        self.path = path
        self.format = fmt
        self.model_file = model_file
        self.meta = meta
        self.manifest = manifest
        self.engine = engine
        self._run = runner
        validate_meta(meta, model_file)
        self.inputs: list[dict[str, Any]] = validate_specs(meta.get("inputs"), "inputs", model_file)
        self.outputs: list[dict[str, Any]] = validate_specs(meta.get("outputs"), "outputs", model_file)
        task = next((t for t in registry.tasks() if t.name == meta.get("task")), None)
        self.task_runtime: TaskRuntime = (task.runtime_class() if task else TaskRuntime)(self)

    def __repr__(self) -> str:
        return f"<Bundle {self.meta.get('name')} ({self.meta.get('weights')}) {self.format} on {self.engine}>"

    def __getattr__(self, name: str) -> Any:
        """The task's own methods; for another task's, one line saying which bundles have it."""
        runtime = self.__dict__.get("task_runtime")
        if name.startswith("_") or runtime is None or hasattr(TaskRuntime, name):
            raise AttributeError(f"'Bundle' object has no attribute {name!r}")
        if hasattr(type(runtime), name):
            return getattr(runtime, name)
        owners = [t.name for t in registry.tasks() if hasattr(t.runtime_class(), name)]
        if owners:
            raise BundleError(f"{name} needs a {' or '.join(owners)} bundle; this one is {self.meta.get('task')!r}.")
        raise AttributeError(f"'Bundle' object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        extra = [n for n in dir(type(self.task_runtime)) if not n.startswith("_") and not hasattr(TaskRuntime, n)]
        return sorted(set(super().__dir__()) | set(extra))

    @property
    def categories(self) -> list[str]:
        return list(self.meta.get("categories") or [])

    def run(self, inputs: Mapping[str, Any] | Any, *, seed: int | None = None) -> dict[str, np.ndarray]:
        """Run on named inputs (a dict), or on one array when the bundle has one input.

        ``seed``: for bundles that sample (text to speech), run right after
        ``torch.manual_seed(seed)`` (without changing the caller's generator): the same
        numbers as the eager model after the same call. Torch bundles only.
        """
        if not isinstance(inputs, Mapping):
            if len(self.inputs) != 1:
                names = ", ".join(s["name"] for s in self.inputs)
                raise BundleError(f"This bundle takes {len(self.inputs)} inputs ({names}); pass a dict.")
            inputs = {self.inputs[0]["name"]: inputs}
        unknown = set(inputs) - {s["name"] for s in self.inputs}
        if unknown:
            raise BundleError(
                f"Unknown input(s) {sorted(unknown)}; this bundle takes {[s['name'] for s in self.inputs]}."
            )
        owner = str(self.meta.get("name", "the bundle"))
        feeds = {}
        for spec in self.inputs:
            if spec["name"] not in inputs:
                raise BundleError(f"Missing input {spec['name']!r} {spec.get('shape')} {spec.get('dtype')}.")
            feeds[spec["name"]] = check_input(spec, inputs[spec["name"]], owner)
        self.task_runtime.check(feeds)
        names = [s["name"] for s in self.outputs]
        results = self._run(feeds, names, seed)
        if len(results) != len(names):
            raise BundleError(
                f"{self.model_file} returned {len(results)} outputs, its meta lists {len(names)}: {names}."
            )
        return dict(zip(names, results, strict=True))

    __call__ = run


def _resolve(path: Path) -> tuple[Path, dict[str, Any] | None, registry.Format, Path]:
    """(bundle dir or file, manifest or None, claimed format, model file) for what the user pointed at."""
    if path.is_dir():
        if (path / MANIFEST).is_file():
            manifest = read_manifest(path)
            known = registry.format_names()
            if manifest["format"] not in known:
                raise BundleError(
                    f"{path}: unknown bundle format {manifest['format']!r}; expected one of {', '.join(known)}."
                )
            return path, manifest, registry.get_format(manifest["format"]), path / manifest["model_file"]
        inner = [p for p in sorted(path.iterdir()) if p.is_dir() and (p / MANIFEST).is_file()]
        if len(inner) == 1:  # a model repository holding one model (Triton)
            return _resolve(inner[0])
        if len(inner) > 1:
            names = ", ".join(p.name for p in inner)
            raise BundleError(f"{path} holds several bundles ({names}); name one of them.")
        raise BundleError(f"{path} is not a bundle: it has no {MANIFEST}; point at a bundle directory or a model file.")
    if path.is_file():
        by_suffix = {Path(f.model_file).suffix: f for f in reversed(registry.formats())}  # the first format wins
        fmt = by_suffix.get(path.suffix)
        if fmt is None:
            raise BundleError(
                f"{path}: unknown bundle file type {path.suffix!r}; expected {', '.join(sorted(by_suffix))}."
            )
        return path, None, fmt, path
    raise BundleError(f"Bundle {path} does not exist.")


def _check_identity(model_file: Path, claimed: registry.Format, claim: str, trust_code: bool) -> None:
    """``model_file`` is what ``claimed`` says (by its bytes), and code runs only when trusted."""
    if not claimed.sniff(model_file):
        actual = next((f.name for f in registry.formats() if f.sniff(model_file)), None)
        what = f"a {actual} file" if actual else "no bundle format modelver knows"
        raise BundleError(f"{model_file} is {what}, not {claimed.name} as {claim} says; refusing to load it.")
    coded = next((f.name for f in registry.formats() if f.carries_code and f.sniff(model_file)), None)
    if coded is not None and not claimed.carries_code:  # a lax sniffer must not let code through
        raise BundleError(f"{model_file} is a {coded} file, not {claimed.name} as {claim} says; refusing to load it.")
    if claimed.carries_code and not trust_code:
        raise BundleError(
            f"{model_file} is a {claimed.name} file, which runs code from the file when loaded; load it only if you "
            "trust where it came from: load(..., trust_code=True) in Python, --trust on the command line."
        )


def load(
    path: str | os.PathLike[str],
    *,
    verify: bool = True,
    threads: int | None = None,
    spin: bool = False,
    engine: str = "auto",
    trust_code: bool = False,
    precision: str = "fp32",
) -> Bundle:
    """Load a bundle directory (checked against its ``bundle.json``) or a bare model file.

    Args:
        path: a directory with ``bundle.json`` (a Triton model repository with one model
            works too), or a model file (``.onnx``, ``.pt`` TorchScript, ``.pt2``).
        verify: check every file's size and sha256 against the manifest first.
        threads: intra-op threads (onnxruntime's session option; ``torch.set_num_threads``
            for the torch formats, which is process-wide).
        spin: ONNX bundles: let onnxruntime's threads spin between runs (its own default).
            Lower latency when the session has the cores to itself; off by default because
            spinning threads slow down other sessions and torch on the same cores.
        engine: ONNX bundles: the inference engine (``registry.register_engine``: ``"onnxruntime"``,
            ``"openvino"``), or ``"auto"`` (default): the faster installed engine for this bundle
            that passed its export check (:mod:`.engine_choice`); :attr:`Bundle.engine` says which, and why
            when it is not plain FP32 on onnxruntime.
        trust_code: required for formats that run code from the file (TorchScript, ``.pt2``):
            load those only from sources you trust. ONNX needs no trust.
        precision: ``"fp32"``, or ``"bf16"`` on CPUs with BF16 instructions: ONNX bundles on OpenVINO (its
            BF16 inference), ``.pt2`` bundles under ``torch.autocast``; refused for TorchScript, and for a
            bundle whose BF16 agreement check failed at export (``bf16`` in its ``bundle.json``).
    """
    root, manifest, fmt, model_file = _resolve(Path(path))
    if manifest is not None and verify:
        verify_files(root, manifest)
    if not model_file.is_file():
        raise BundleError(f"{model_file} is missing from the bundle; copy the whole directory.")
    _check_identity(model_file, fmt, "its manifest" if manifest is not None else "its name", trust_code)
    why = ""
    if fmt.needs == "onnx":
        from .engine_choice import DEFAULT_REASON, choose_engine, peek_meta

        known = manifest["meta"] if manifest is not None else peek_meta(model_file)
        engine, why = choose_engine(engine, precision, known, manifest)
        why = "" if why in ("asked for", DEFAULT_REASON) else f" ({why})"
    else:
        from .engine_choice import torch_precision

        if engine not in ("auto", "onnxruntime"):
            raise BundleError(f"engine= chooses how ONNX bundles run; this is a {fmt.name} bundle (it runs on torch).")
        why = torch_precision(fmt.name, precision, manifest)
        why = f" ({why})" if why else ""
    options = LoadOptions(threads=threads, spin=spin, engine=engine, trust_code=trust_code, precision=precision)
    loaded = fmt.load(model_file, options)
    return Bundle(root, fmt.name, model_file, loaded.meta, manifest, loaded.run, loaded.engine + why)
