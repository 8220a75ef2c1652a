"""``export_model``: a registered builder and weights entry → one checked bundle per format."""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from modelver.errors import BundleError

from . import registry, triton_repo
from ._bundle import BUNDLE_VERSION, MANIFEST, file_entry, write_manifest
from ._results import BundleResult, summary_table
from .formats import check_opset

__all__ = ["BundleResult", "export_model", "parse_formats", "summary_table"]


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


_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".bin")


def _checkpoint_entry(builder: Callable[..., Any], path: Path) -> Any:
    """A checkpoint file fine-tuned from the builder's DEFAULT entry: that entry's meta and transforms, this file."""
    from modelver import get_model_weights
    from modelver._weights import Weights

    from ._bundle import sha256_file

    default = get_model_weights(builder).DEFAULT.value
    return Weights(
        url=path.resolve().as_uri(), transforms=default.transforms, meta=dict(default.meta), sha256=sha256_file(path)
    )


def _resolve(name: str, weights: Any) -> tuple[Callable[..., Any], Any, str]:
    from modelver import get_model_builder, get_model_weights
    from modelver._weights import Weights, weights_label

    builder = get_model_builder(name)
    if isinstance(weights, Weights):  # a custom entry works for builders without an enum of their own too
        entry = weights
    elif isinstance(weights, (str, Path)) and Path(weights).suffix in _CHECKPOINT_SUFFIXES and Path(weights).is_file():
        entry = _checkpoint_entry(builder, Path(weights))
    else:
        entry = get_model_weights(builder).verify(weights if weights is not None else "DEFAULT")
    if entry is None:
        raise BundleError(f"Exporting {name} needs weights (their meta says what the bundle's outputs mean).")
    return builder, entry, weights_label(entry)


def weights_source(entry: Any, *, verify_file: bool) -> dict[str, Any]:
    """What the manifest records about the weights: exact entry, file sha256 and size, lock pin line.

    Under a lock (``MODELVER_LOCK``, ``modelver.use_lock``) the entry is the pinned one and its
    pin line is quoted. ``verify_file``: the model was built here from the real file, which is
    at hand to hash; otherwise (a model built by the caller, synthetic weights, a builder that
    loads no file) ``verified`` is false and the digest is the pin's or the entry's, if known.
    """
    from modelver.errors import WeightsUnavailableError
    from modelver.lockfile import provenance

    if verify_file:
        try:
            return provenance(entry, fetch=True)
        except WeightsUnavailableError:
            pass
    return provenance(entry, fetch=False)


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
    quantize: str | None = None,
    calibration: str | Path | None = None,
) -> list[BundleResult]:
    """Export builder ``name`` with ``weights`` to each of ``formats``; check each against eager.

    Args:
        name: a registered builder (``modelver list``).
        weights: an entry of its enum, a name like ``"DEFAULT"``, a custom ``Weights``, a checkpoint
            file fine-tuned from the DEFAULT entry (same categories), or several of them (a list, or
            names separated by commas): one numbered version each in a versioned format (Triton).
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
        quantize: ``"int8"``: ONNX / Triton bundles quantized with onnxruntime's tools
            (:mod:`modelver_export.quantize`) and checked by agreement with the FP32 pipeline on
            held-out inputs (:mod:`modelver_export.agreement`) on every installed engine instead
            of parity; the default ``out`` is then ``bundles/NAME-int8``.
        calibration: with ``quantize``, for image models: a directory of images calibrated on
            besides the built-in photos.
    """
    say = progress or (lambda _line: None)
    parse_formats(formats)  # a typo fails before anything is imported or built
    entries = _weights_list(weights)
    if len(entries) > 1:
        if quantize:
            raise BundleError("--quantize exports one weights entry at a time; give one --weights.")
        return _export_versions(name, entries, formats, out, opset, check, model, progress)
    weights = entries[0]
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
    from .quantize import check_quantize

    check_quantize(quantize, task_name, [f.name for f in chosen], calibration)
    out_dir = Path(out) if out is not None else Path("bundles") / (name + (f"-{quantize}" if quantize else ""))
    results = []
    for fmt in [f for f in chosen if f.versioned and not quantize]:  # already there: nothing to build for it
        triton_repo.check_target(fmt.directory(out_dir, name))
        present = triton_repo.find_version(fmt.directory(out_dir, name), label, entry.sha256 or None)
        if present is not None:
            say(f"==> {fmt.name}: {label} is already version {present.number} of {present.path.parent}; left as it is")
            results.append(
                BundleResult(fmt.name, present.path.parent, present.size, 0.0, present.parity, present.number)
            )
            chosen.remove(fmt)
    if not chosen:
        return results

    start = time.perf_counter()
    built_here = model is None
    if built_here:
        say(f"==> building {name} with {label}")
        model = builder(weights=entry, progress=progress is not None)
    model = model.eval()
    from modelver.testing import active_synthetic_seed

    source = weights_source(entry, verify_file=built_here and active_synthetic_seed() is None)
    task = exporter_class(name, model, entry, label)
    meta = build_meta(name, entry, label, task)
    from .parity import eager_outputs

    cases = task.cases() if check and not quantize else []
    references = [eager_outputs(task, case) for case in cases]
    say(f"    ready in {time.perf_counter() - start:.1f} s" + (f"; {len(cases)} parity inputs" if cases else ""))

    from . import runtime
    from .parity import check_bundle, failure_summary

    for fmt in chosen:
        directory = fmt.directory(out_dir, name)
        target, staging = directory, None
        if fmt.versioned:  # written and checked as version 1 of a staging directory, then added as the next number
            triton_repo.check_compatible(target, meta, label)
            out_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
            directory = staging / name
        elif directory.exists():
            if not (directory / MANIFEST).is_file() and any(directory.iterdir()):
                raise BundleError(f"{directory} exists and is not a bundle; choose another --out or empty it.")
            shutil.rmtree(directory)  # an earlier bundle of this format: replaced
        directory.mkdir(parents=True)
        say(
            f"==> {fmt.name}: exporting to {directory}"
            if staging is None
            else f"==> {fmt.name}: exporting the next version of {target}"
        )
        began = time.perf_counter()
        written = fmt.write(task, meta, directory, options)
        bundle_meta = meta
        if quantize:
            from .quantize import make_int8

            say(f"    {fmt.name}: quantizing to {quantize}")
            bundle_meta = make_int8(task, meta, directory, written.model_file, calibration)
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
            "weights_source": source,
            "model_file": written.model_file,
            "files": {f: file_entry(directory, f) for f in written.files},
            "inputs": bundle_meta["inputs"],
            "outputs": bundle_meta["outputs"],
            "export": {
                **written.details,
                "seconds": round(seconds, 3),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            },
            "parity": {"checked": False, "note": "exported with --no-check"},
            "meta": bundle_meta,
        }
        if quantize:
            manifest["quantization"] = bundle_meta["quantization"]
            manifest["parity"] = {"checked": False, "note": f"{quantize}: checked by agreement with FP32 instead"}
        write_manifest(directory, manifest)
        size = sum(entry["size"] for entry in manifest["files"].values())
        shown = directory / written.model_file if staging is None else "staged"
        say(f"    {fmt.name}: {shown} ({size / 2**20:.1f} MiB) in {seconds:.1f} s")
        agreement = None
        if quantize:
            from .engine_checks import agreement_on_engines

            agreement = agreement_on_engines(task, directory, say, fmt)
            manifest["agreement"] = agreement
            write_manifest(directory, manifest)
            if check and not agreement["passed"]:
                from .agreement import failure

                raise BundleError(
                    f"The {quantize} {fmt.name} bundle of {name} strays too far from FP32: {failure(agreement)}. "
                    f"The report is in {directory / 'bundle.json'}; --no-check keeps it anyway."
                )
        elif check:
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
            from .engine_checks import bf16_agreement, parity_on_engines, timed_on_export

            if fmt.needs == "onnx":
                report["engines"] = {
                    "onnxruntime": {"passed": True, "max_abs": report["max_abs"]},
                    **parity_on_engines(task, fmt, directory, cases, references, say),
                }
                if cases and cases[0].seed is None:
                    timed_on_export(directory, report["engines"], cases[0].inputs)
                    report["timed_on"] = f"{cases[0].name}, median of 5 interleaved calls, at export"
            bf16 = bf16_agreement(task, directory, say, fmt)  # ONNX on OpenVINO, .pt2 under torch.autocast
            if bf16 is not None:
                manifest["bf16"] = bf16
            write_manifest(directory, manifest)
        number = None
        if staging is not None:
            try:
                number, _ = triton_repo.add_version(target, directory)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            say(f"    {fmt.name}: version {number} of {target}")
        results.append(BundleResult(fmt.name, target, size, seconds, manifest["parity"], number, agreement))
    return results


def _weights_list(weights: Any) -> list[Any]:
    if isinstance(weights, str) and "," in weights:
        names = [w.strip() for w in weights.split(",") if w.strip()]
        if not names:
            raise BundleError(f"--weights {weights!r} names no weights entry.")
        return names
    if isinstance(weights, (list, tuple)):
        if not weights:
            raise BundleError("No weights entry given.")
        return list(weights)
    return [weights]


def _export_versions(
    name: str,
    entries: list[Any],
    formats: str | Sequence[str],
    out: str | Path | None,
    opset: int | None,
    check: bool,
    model: Any,
    progress: Callable[[str], None] | None,
) -> list[BundleResult]:
    """Several weights entries: one numbered version each, in formats that hold versions (Triton)."""
    if model is not None:
        raise BundleError("model= is one built model: export several weights entries without it.")
    chosen = [registry.get_format(f) for f in parse_formats(formats)]
    flat = [f.name for f in chosen if not f.versioned]
    if flat:
        versioned = ", ".join(f.name for f in registry.formats() if f.versioned)
        raise BundleError(
            f"Several weights entries are numbered versions of one model, which {', '.join(flat)} bundles do not "
            f"hold; export them to {versioned}, or one entry at a time, each to its own --out."
        )
    resolved = [_resolve(name, w) for w in entries]
    labels = [label for _, _, label in resolved]
    if len(set(labels)) < len(labels):
        raise BundleError(f"--weights names the same entry twice: {', '.join(labels)}.")
    first = resolved[0][1].meta
    for _, entry, label in resolved[1:]:  # before anything is built: what cannot share one Triton config
        for key in ("task", "categories"):
            if entry.meta.get(key) != first.get(key):
                raise BundleError(
                    f"{label} and {labels[0]} have different {key}: they cannot be versions of one Triton model "
                    "(one config, one labels.txt); export them to different --out directories."
                )
    results = []
    for _, entry, _ in resolved:
        results += export_model(
            name, weights=entry, formats=formats, out=out, opset=opset, check=check, progress=progress
        )
    return results
