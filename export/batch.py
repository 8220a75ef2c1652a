"""``modelver batch``: run a bundle over many inputs with Ray Data, one output row per input.

    modelver batch bundles/lite0/onnx photos/ --out predictions.parquet --concurrency 2

Inputs are image files and folders of images (image bundles) or text files, one sentence a
line (text bundles). ``ray.data`` feeds them to ``map_batches`` with :class:`Predictor`, a
callable class that loads the bundle once per worker (``modelver_export.runtime.load``) and
runs it with the bundle's own methods, so every row is what ``modelver run`` says for that
input. Rows (``input``, ``version``, then ``labels`` + ``probabilities`` for classifiers,
``embedding`` for sentence embeddings, ``labels`` + ``scores`` + ``boxes`` for detectors)
are written in input order as JSON lines (``.jsonl``/``.json``) or Parquet (``.parquet``).
An input that cannot be read is skipped with one line saying why.

Imports Ray only when :func:`run_batch` runs. On a cluster (``address``) every worker reads
the bundle and the inputs by path: they must be on a filesystem every node sees.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelver.errors import BundleError, ModelverError

__all__ = ["IMAGE_SUFFIXES", "BatchSummary", "Predictor", "expand_inputs", "run_batch"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
OUTPUT_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
_IMAGE_TASKS = ("image_classification", "object_detection")
_TEXT_TASKS = ("sentence_embedding", "text_classification")


@dataclasses.dataclass
class BatchSummary:
    """What a batch run did: rows written, inputs skipped (each with why), where, how long."""

    out: Path
    rows: int
    skipped: list[str]
    seconds: float
    version: str


def expand_inputs(inputs: Sequence[str], task: str) -> tuple[list[dict[str, str]], list[str]]:
    """Command-line inputs → one item per image or text line, and a line for each input skipped.

    Each item is ``{"input": as given, "path": absolute path of an image, "" for a text}``: Ray's workers
    need not share the caller's working directory.
    """
    items: list[dict[str, str]] = []
    skipped: list[str] = []
    for given in inputs:
        path = Path(given)
        if task in _IMAGE_TASKS:
            if path.is_dir():
                found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
                if not found:
                    skipped.append(f"{given}: a folder with no image files ({', '.join(IMAGE_SUFFIXES)})")
                items += [{"input": str(p), "path": str(p.resolve())} for p in found]
            elif path.is_file():
                items.append({"input": str(path), "path": str(path.resolve())})
            else:
                skipped.append(f"{given}: no such file or folder")
            continue
        if not path.is_file():
            skipped.append(f"{given}: not a text file (give files with one sentence a line)")
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append(f"{given}: cannot be read as UTF-8 text ({type(exc).__name__})")
            continue
        items += [{"input": line.strip(), "path": ""} for line in lines if line.strip()]
    return items, skipped


class Predictor:
    """The ``map_batches`` callable: holds one loaded bundle per Ray Data worker."""

    def __init__(self, path: str, topk: int = 5, load_options: dict[str, Any] | None = None) -> None:
        from .runtime import load

        self.bundle = load(path, **(load_options or {}))
        self.topk = topk
        self.task = self.bundle.meta.get("task")

    def _one(self, item: str) -> dict[str, Any]:
        task, bundle = self.task, self.bundle
        if task == "image_classification":
            top = bundle.predict_image(item, self.topk)
            return {"labels": [c for c, _ in top], "probabilities": [p for _, p in top]}
        if task == "object_detection":
            found = bundle.detect(item)
            return {
                "labels": [d.label for d in found],
                "scores": [d.score for d in found],
                "boxes": [list(d.box) for d in found],
            }
        if task == "sentence_embedding":
            return {"embedding": bundle.embed([item])[0].tolist()}
        if task == "text_classification":
            top = bundle.classify_text([item], self.topk)[0]
            return {"labels": [c for c, _ in top], "probabilities": [p for _, p in top]}
        raise BundleError(f"`modelver batch` has no form for {task!r} bundles.")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        # Results travel as JSON text (one string column): every block has the same schema,
        # whether its inputs were classified, embedded or skipped.
        results, errors = [], []
        for item, path in zip(batch["input"], batch["path"]):
            try:
                results.append(json.dumps(self._one(str(path) or str(item))))
                errors.append("")
            except BundleError as exc:
                results.append("")
                errors.append(" ".join(str(exc).split()))
        inputs, paths = [str(i) for i in batch["input"]], [str(p) for p in batch["path"]]
        return {"input": inputs, "path": paths, "result": results, "error": errors}


class _Writer:
    """JSON lines or Parquet, written to ``out.tmp`` and renamed when complete."""

    def __init__(self, out: Path) -> None:
        self.out, self.kind = out, OUTPUT_SUFFIXES[out.suffix.lower()]
        self.tmp = out.with_name(out.name + ".tmp")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.parquet: Any = None
        self.jsonl = self.tmp.open("w", encoding="utf-8") if self.kind == "jsonl" else None

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self.jsonl is not None:
            self.jsonl.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows)
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(self.tmp, table.schema)
        self.parquet.write_table(table.cast(self.parquet.schema))

    def close(self, keep: bool) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.parquet is not None:
            self.parquet.close()
        if keep and self.tmp.exists():
            os.replace(self.tmp, self.out)
        else:
            self.tmp.unlink(missing_ok=True)


def _bundle_version(bundle: str, version: str | None, load_options: dict[str, Any]) -> Any:
    from .serve import discover

    models = discover([bundle], load_options)
    if len(models) != 1:
        raise ModelverError(f"{bundle} holds several models ({', '.join(models)}); give one of them.")
    (model,) = models.values()
    try:
        return model.version(version)
    except KeyError:
        raise ModelverError(f"{bundle} has no version {version!r}; it has {', '.join(model.labels)}.") from None


def run_batch(
    bundle: str,
    inputs: Sequence[str],
    out: str | os.PathLike[str],
    *,
    address: str | None = None,
    concurrency: int = 1,
    batch_size: int = 16,
    topk: int = 5,
    version: str | None = None,
    threads: int | None = None,
    engine: str = "auto",
    precision: str = "fp32",
    cpus_per_worker: float = 1.0,
    trust_code: bool = False,
) -> BatchSummary:
    """Run ``bundle`` over ``inputs`` with Ray Data; write one row per input to ``out`` (.jsonl or .parquet).

    Args:
        bundle: a bundle directory or a Triton model directory (``version``: which one; default its highest).
        inputs: image files or folders (image bundles), text files with one sentence a line (text bundles).
        address: an existing Ray cluster (default: this process's Ray instance, or a new local one).
        concurrency: Ray Data workers, each holding one loaded bundle.
        batch_size: inputs per ``map_batches`` call.
        engine, precision, threads, trust_code: how each worker loads the bundle (``modelver_export.runtime.load``).
    """
    start = time.perf_counter()
    target = Path(out)
    if target.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ModelverError(f"--out {out}: name a .jsonl (JSON lines) or .parquet file.")
    if concurrency < 1 or batch_size < 1 or topk < 1:
        raise ModelverError("--concurrency, --batch-size and --topk must be at least 1.")
    load_options = {"threads": threads, "engine": engine, "trust_code": trust_code, "precision": precision}
    chosen = _bundle_version(bundle, version, load_options)
    task = str(chosen.meta.get("task"))
    if task not in _IMAGE_TASKS + _TEXT_TASKS:
        raise ModelverError(f"`modelver batch` runs image and text bundles; {bundle} is a {task!r} bundle.")
    items, skipped = expand_inputs(inputs, task)
    from tqdm import tqdm

    for line in skipped:
        tqdm.write(f"skipped {line}", file=sys.stderr)
    if not items:
        raise ModelverError("Nothing to run: none of the inputs could be read.")
    label = str(chosen.number) if chosen.number is not None else chosen.name

    from .serve import connect

    ray = connect(address)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # rows in the order of the inputs
    context.enable_progress_bars = False  # one bar of our own, in inputs
    dataset = ray.data.from_items(items).map_batches(
        Predictor,
        fn_constructor_kwargs={"path": chosen.path, "topk": topk, "load_options": load_options},
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_cpus=cpus_per_worker,
    )
    writer, rows, done = _Writer(target), 0, False
    try:
        with tqdm(total=len(items), unit="input", desc="batch", file=sys.stderr, disable=None) as bar:
            for batch in dataset.iter_batches(batch_size=batch_size, batch_format="numpy"):
                good = []
                for item, path, result, error in zip(batch["input"], batch["path"], batch["result"], batch["error"]):
                    if error:
                        skipped.append(str(error).replace(str(path), str(item)) if path else str(error))
                        bar.write(f"skipped {skipped[-1]}", file=sys.stderr)
                    else:
                        good.append({"input": str(item), "version": label, **json.loads(str(result))})
                if good:
                    writer.write(good)
                rows += len(good)
                bar.update(len(batch["input"]))
        done = rows > 0
    finally:
        writer.close(keep=done)
    if not done:
        raise ModelverError(f"No input could be run ({len(skipped)} skipped); nothing written to {out}.")
    return BatchSummary(target, rows, skipped, time.perf_counter() - start, label)
