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

from . import registry
from ._bundle import BUNDLE_VERSION, MANIFEST, file_entry, write_manifest
from .formats import check_opset

__all__ = ["BundleResult", "export_model", "parse_formats"]


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
    known = registry.format_names()
    if not items:
        raise BundleError(f"No format given; choose from {', '.join(known)} (comma-separated) or 'all'.")
    if items == ["all"]:
        return [f for f in known if supported is None or supported.get(f) is None]
    unknown = [f for f in items if f not in known]
    if unknown:
        raise BundleError(f"Unknown format {unknown[0]!r}; choose from {', '.join(known)} (comma-separated) or 'all'.")
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
    if weights.meta.get("_metrics"):  # torchvision's key in the weights; the bundle's own schema says "metrics"
        meta["metrics"] = weights.meta["_metrics"]
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
        formats: registered formats (``torchscript``, ``onnx``, ``pt2``, ``triton``, ...; a
            list or a comma-separated string), or ``"all"``.
        out: the output directory (default ``bundles/NAME``); each format gets its own
            bundle directory in it (its ``Format.layout``: ``onnx/``, ``triton/NAME/``, ...).
        opset: ONNX opset (18 to 23; default 18).
        check: compare each bundle, loaded through :mod:`modelver_export.runtime`, with the eager
            pipeline; a bundle outside tolerance raises BundleError (its report stays in
            its ``bundle.json``).
        model: an already built model for these weights (default: ``builder(weights=...)``).
        progress: where progress lines go (None: nowhere).
    """
    say = progress or (lambda _line: None)
    parse_formats(formats)  # a typo fails before anything is imported or built
    options: dict[str, Any] = {}
    if opset is not None:
        options["opset"] = check_opset(int(opset))
    builder, entry, label = _resolve(name, weights)
    task_name = entry.meta.get("task")
    support = registry.support(task_name)
    chosen = [registry.get_format(f) for f in parse_formats(formats, support)]
    for fmt in chosen:
        if support[fmt.name] is not None:
            raise BundleError(
                f"{name} cannot be exported to {fmt.name}: {support[fmt.name]}. See `modelver export --list`."
            )
    if not chosen:
        raise BundleError(f"{name} supports no export format yet. See `modelver export --list`.")
    exporter_class = registry.get_task(task_name).exporter_class()
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
    from .parity import check_bundle, failure_summary

    results = []
    for fmt in chosen:
        directory = fmt.directory(out_dir, name)
        if directory.exists():
            if not (directory / MANIFEST).is_file() and any(directory.iterdir()):
                raise BundleError(f"{directory} exists and is not a bundle; choose another --out or empty it.")
            shutil.rmtree(directory)  # an earlier bundle of this format: replaced
        directory.mkdir(parents=True)
        say(f"==> {fmt.name}: exporting to {directory}")
        began = time.perf_counter()
        written = fmt.write(task, meta, directory, options)
        for filename, data in task.bundle_files().items():
            (directory / filename).write_bytes(data)
            written.files.append(filename)
        seconds = time.perf_counter() - began
        manifest: dict[str, Any] = {
            "bundle_version": BUNDLE_VERSION,
            "format": fmt.name,
            "name": name,
            "task": task.task,
            "weights": label,
            "model_file": written.model_file,
            "files": {f: file_entry(directory, f) for f in written.files},
            "inputs": meta["inputs"],
            "outputs": meta["outputs"],
            "export": {
                **written.details,
                "seconds": round(seconds, 3),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            },
            "parity": {"checked": False, "note": "exported with --no-check"},
            "meta": meta,
        }
        write_manifest(directory, manifest)
        size = sum(entry["size"] for entry in manifest["files"].values())
        say(f"    {fmt.name}: {directory / written.model_file} ({size / 2**20:.1f} MiB) in {seconds:.1f} s")
        if check:
            # the deployed path: manifest sha256, meta digest, the runtime; the code it runs is what we just wrote
            bundle = runtime.load(directory, trust_code=True)
            report = check_bundle(task, fmt, bundle.run, directory / written.model_file, cases, references)
            manifest["parity"] = report
            write_manifest(directory, manifest)
            worst = ", ".join(f"{k} {v:.2g}" for k, v in report["max_abs"].items())
            verdict = "ok" if report["passed"] else "FAILED"
            say(
                f"    {fmt.name}: parity {verdict} on {len(cases)} inputs (max abs diff: {worst}) in {report['seconds']:.1f} s"
            )
            if not report["passed"]:
                raise BundleError(
                    f"The {fmt.name} bundle of {name} differs from eager: {failure_summary(report)}. "
                    f"The report is in {directory / 'bundle.json'}; --no-check skips the check."
                )
        results.append(BundleResult(fmt.name, directory, size, seconds, manifest["parity"]))
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
