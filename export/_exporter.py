"""``export_model``: a registered builder and weights entry → one checked bundle per format."""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from modelver.errors import BundleError

from ._bundle import BUNDLE_VERSION, FORMATS, MANIFEST, file_entry, write_manifest

__all__ = ["BundleResult", "export_model", "parse_formats", "check_opset", "DEFAULT_OPSET", "MAX_OPSET"]

DEFAULT_OPSET = 18  # the dynamo exporter's native opset; Resize's antialias needs >= 18
MAX_OPSET = 23


def check_opset(opset: int) -> int:
    if not DEFAULT_OPSET <= opset <= MAX_OPSET:
        raise BundleError(
            f"--opset {opset} is not supported: choose {DEFAULT_OPSET} to {MAX_OPSET} (default {DEFAULT_OPSET})."
        )
    return opset


@dataclasses.dataclass
class BundleResult:
    """One written bundle, as the summary table shows it."""

    format: str
    path: Path
    size: int
    seconds: float
    parity: dict[str, Any]

    @property
    def max_abs_diff(self) -> float | None:
        from .parity import max_abs_diff

        return max_abs_diff(self.parity)


def parse_formats(value: str | Iterable[str], supported: dict[str, str | None] | None = None) -> list[str]:
    """``"onnx,pt2"`` or a list → validated formats, in the order given; ``all`` = every supported one."""
    items = [f.strip().lower() for f in (value.split(",") if isinstance(value, str) else value) if f.strip()]
    if not items:
        raise BundleError(f"No format given; choose from {', '.join(FORMATS)} (comma-separated) or 'all'.")
    if items == ["all"]:
        return [f for f in FORMATS if supported is None or supported.get(f) is None]
    unknown = [f for f in items if f not in FORMATS]
    if unknown:
        raise BundleError(
            f"Unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)} (comma-separated) or 'all'."
        )
    return list(dict.fromkeys(items))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def build_meta(name: str, weights: Any, label: str, task: Any) -> dict[str, Any]:
    """The meta every artifact carries: the weights' public meta plus what a runtime needs."""
    import torch

    from modelver import __version__

    meta: dict[str, Any] = {k: v for k, v in weights.meta.items() if not k.startswith("_")}
    if weights.meta.get("_docs"):
        meta["docs"] = weights.meta["_docs"]
    meta.update(
        {
            "name": name,
            "task": task.task,
            "weights": label,
            "source_url": weights.url,
            "source_sha256": weights.sha256 or None,
            "modelver_version": __version__,
            "torch_version": torch.__version__,
            "inputs": task.inputs(),
            "outputs": task.outputs(),
        }
    )
    meta.update(task.task_meta())
    return _jsonable(meta)


def _bundle_dir(out: Path, fmt: str, name: str) -> Path:
    # Triton wants a repository of model directories: out/triton/<name>/
    return out / "triton" / name if fmt == "triton" else out / fmt


def _resolve(name: str, weights: Any) -> tuple[Callable[..., Any], Any, str]:
    from modelver import get_model_builder, get_model_weights
    from modelver._weights import Weights, weights_label

    builder = get_model_builder(name)
    if isinstance(weights, Weights):  # a custom entry works for builders without an enum of their own too
        entry = weights
    else:
        entry = get_model_weights(builder).verify(weights if weights is not None else "DEFAULT")
    if entry is None:
        raise BundleError(f"Exporting {name} needs weights (their meta says what the bundle's outputs mean).")
    return builder, entry, weights_label(entry)


def export_model(
    name: str,
    *,
    weights: Any = "DEFAULT",
    formats: str | Sequence[str] = ("onnx",),
    out: str | Path | None = None,
    opset: int | None = None,
    check: bool = True,
    model: Any = None,
    progress: Callable[[str], None] | None = print,
) -> list[BundleResult]:
    """Export builder ``name`` with ``weights`` to each of ``formats``; check each against eager.

    Args:
        name: a registered builder (``modelver list``).
        weights: an entry of its enum, or a name like ``"DEFAULT"``.
        formats: some of ``torchscript``, ``onnx``, ``pt2``, ``triton`` (a list or a
            comma-separated string), or ``"all"``.
        out: the output directory (default ``bundles/NAME``); each format gets its own
            bundle directory in it (``onnx/``, ``torchscript/``, ``pt2/``, ``triton/NAME/``).
        opset: ONNX opset (18 to 23; default 18).
        check: compare each bundle, loaded through :mod:`modelver_export.runtime`, with the eager
            pipeline; a bundle outside tolerance raises BundleError (its report stays in
            its ``bundle.json``).
        model: an already built model for these weights (default: ``builder(weights=...)``).
        progress: where progress lines go (None: nowhere).
    """
    from . import tasks

    say = progress or (lambda _line: None)
    parse_formats(formats)  # a typo fails before anything is imported or built
    options: dict[str, Any] = {}
    if opset is not None:
        options["opset"] = check_opset(int(opset))
    builder, entry, label = _resolve(name, weights)
    task_name = entry.meta.get("task")
    support = tasks.formats_for_task(task_name)
    chosen = parse_formats(formats, support)
    for fmt in chosen:
        if support[fmt] is not None:
            raise BundleError(f"{name} cannot be exported to {fmt}: {support[fmt]}. See `modelver export --list`.")
    if not chosen:
        raise BundleError(f"{name} supports no export format yet. See `modelver export --list`.")
    exporter_class = tasks.exporter_class(task_name)
    exporter_class.check_options(chosen, options)
    out_dir = Path(out) if out is not None else Path("bundles") / name

    start = time.perf_counter()
    if model is None:
        say(f"==> building {name} with {label}")
        model = builder(weights=entry, progress=progress is not None)
    model = model.eval()
    task = exporter_class(name, model, entry, label)
    meta = build_meta(name, entry, label, task)
    from .parity import eager_outputs

    cases = task.cases() if check else []
    references = [eager_outputs(task, case) for case in cases]
    say(f"    ready in {time.perf_counter() - start:.1f} s" + (f"; {len(cases)} parity inputs" if check else ""))

    from . import runtime
    from .formats import writer
    from .parity import check_bundle, failure_summary

    results = []
    for fmt in chosen:
        directory = _bundle_dir(out_dir, fmt, name)
        if directory.exists():
            if not (directory / MANIFEST).is_file() and any(directory.iterdir()):
                raise BundleError(f"{directory} exists and is not a bundle; choose another --out or empty it.")
            shutil.rmtree(directory)  # an earlier bundle of this format: replaced
        directory.mkdir(parents=True)
        say(f"==> {fmt}: exporting to {directory}")
        began = time.perf_counter()
        written = writer(fmt).write(task, meta, directory, options)
        for filename, data in task.bundle_files().items():
            (directory / filename).write_bytes(data)
            written.files.append(filename)
        seconds = time.perf_counter() - began
        manifest: dict[str, Any] = {
            "bundle_version": BUNDLE_VERSION,
            "format": fmt,
            "name": name,
            "task": task.task,
            "weights": label,
            "model_file": written.model_file,
            "files": {f: file_entry(directory, f) for f in written.files},
            "inputs": meta["inputs"],
            "outputs": meta["outputs"],
            "export": {
                **written.details,
                **task.export_details(fmt),
                "seconds": round(seconds, 3),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            },
            "parity": {"checked": False, "note": "exported with --no-check"},
            "meta": meta,
        }
        write_manifest(directory, manifest)
        size = sum(entry["size"] for entry in manifest["files"].values())
        say(f"    {fmt}: {directory / written.model_file} ({size / 2**20:.1f} MiB) in {seconds:.1f} s")
        if check:
            bundle = runtime.load(directory)  # the deployed path: manifest sha256, meta digest, the runtime
            report = check_bundle(task, fmt, bundle.run, directory / written.model_file, cases, references)
            manifest["parity"] = report
            write_manifest(directory, manifest)
            worst = ", ".join(f"{k} {v:.2g}" for k, v in report["max_abs"].items())
            verdict = "ok" if report["passed"] else "FAILED"
            say(
                f"    {fmt}: parity {verdict} on {len(cases)} inputs (max abs diff: {worst}) in {report['seconds']:.1f} s"
            )
            if not report["passed"]:
                raise BundleError(
                    f"The {fmt} bundle of {name} differs from eager: {failure_summary(report)}. "
                    f"The report is in {directory / 'bundle.json'}; --no-check skips the check."
                )
        results.append(BundleResult(fmt, directory, size, seconds, manifest["parity"]))
    return results


def summary_table(results: Sequence[BundleResult]) -> str:
    rows = [("format", "size", "export", "check", "max abs diff", "bundle")]
    for r in results:
        diff = r.max_abs_diff
        check = r.parity.get("seconds")
        rows.append(
            (
                r.format,
                f"{r.size / 2**20:.1f} MiB",
                f"{r.seconds:.1f} s",
                f"{check:.1f} s" if check is not None else "-",
                f"{diff:.1e}" if diff is not None else "not checked",
                str(r.path),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
