"""Agreement: a reduced-precision bundle against the FP32 eager pipeline, on held-out inputs.

Parity (:mod:`modelver_export.parity`) asks for equal outputs within float rounding; an INT8
or BF16 bundle cannot give that, so its check asks whether it *answers the same*, on inputs
that were not used to calibrate it:

- image classification: modelver's four sample photos (:data:`HELD_OUT_PHOTOS`, never in the
  calibration set) and their mirror images, 8 inputs;
- text: the published all-MiniLM-L6-v2 sentences (:data:`modelver_export.tasks.text.SENTENCES`).

Figures and the thresholds below which the export is refused (``check=False`` /
``--no-check`` skips the refusal, never the report):

- classifiers: **top-1 agreement** >= 0.75 (at most 2 of 8 may change: low-confidence photos such
  as ``astronaut``, best class 13%, legitimately swap near-tied classes), mean **top-5
  overlap** >= 0.8 (4 of 5 classes), **largest probability difference** <= 0.15. Measured for
  EfficientNet-Lite0 with our recipe: top-1 0.875, largest difference 0.09 (onnxruntime) and
  0.08 (OpenVINO), both on the mirrored ``astronaut`` (FP32: bobsled 0.23 vs football helmet
  0.21), <= 0.05 on every photo with a clear class; calibrated on one page of text instead,
  the same model gives top-1 0.5 and 0.68-0.70, as the naive calibration in issue 18 did (0.64);
- embeddings: smallest **cosine similarity** between the INT8 and FP32 embedding of a text >=
  0.99 (our recipe: 0.999 for MiniLM), and the report gives the largest change of the
  similarity between two texts (0.003);
- token states (text encoders): the smallest per-token cosine similarity >= 0.98.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["HELD_OUT_PHOTOS", "THRESHOLDS", "agreement", "figures", "held_out"]

HELD_OUT_PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")
THRESHOLDS: dict[str, dict[str, float]] = {
    "classification": {"top1_agreement": 0.75, "top5_overlap": 0.8, "max_prob_diff": 0.15},
    "embedding": {"min_cosine": 0.99},
    "tokens": {"min_cosine": 0.98},
}


def held_out(task: Any) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """(names, feeds) of the task's held-out inputs (one feed per input, batch 1; text: one batch)."""
    if task.task == "image_classification":
        from skimage import data

        names, feeds = [], []
        for photo in HELD_OUT_PHOTOS:
            pixels = getattr(data, photo)().transpose(2, 0, 1)[None]
            for label, array in ((photo, pixels), (f"{photo} (mirrored)", pixels[..., ::-1])):
                names.append(f"skimage.data.{label}")
                feeds.append({"images": np.ascontiguousarray(array)})
        return names, feeds
    from .tasks.text import SENTENCES

    batch = {k: v.numpy() for k, v in task.tokenizer(list(SENTENCES)).items()}
    return list(SENTENCES), [batch]


def _kind(task: Any) -> str:
    if task.task in ("image_classification", "text_classification"):
        return "classification"
    return "tokens" if task.task == "text_encoding" else "embedding"


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def figures(kind: str, reference: np.ndarray, actual: np.ndarray, mask: np.ndarray | None = None) -> dict[str, Any]:
    """The agreement figures of one output (rows = inputs), FP32 ``reference`` against ``actual``."""
    if kind == "classification":
        top5 = min(5, reference.shape[-1])
        ref_top = np.argsort(-reference, axis=-1)[:, :top5]
        act_top = np.argsort(-actual, axis=-1)[:, :top5]
        overlap = [len(set(a) & set(b)) / top5 for a, b in zip(ref_top, act_top)]
        return {
            "top1_agreement": float((ref_top[:, 0] == act_top[:, 0]).mean()),
            "top5_overlap": float(np.mean(overlap)),
            "max_prob_diff": float(np.abs(reference.astype(np.float64) - actual).max()),
        }
    cosine = (_unit(reference) * _unit(actual)).sum(-1)
    if kind == "tokens":
        cosine = cosine[mask.astype(bool)] if mask is not None else cosine.ravel()
        return {"min_cosine": float(cosine.min())}
    ref_sim, act_sim = _unit(reference) @ _unit(reference).T, _unit(actual) @ _unit(actual).T
    return {
        "min_cosine": float(cosine.min()),
        "max_similarity_change": float(np.abs(ref_sim - act_sim).max()),
        "similarities": [round(float(v), 4) for v in act_sim[np.triu_indices(len(act_sim), 1)]],
        "fp32_similarities": [round(float(v), 4) for v in ref_sim[np.triu_indices(len(ref_sim), 1)]],
    }


def _passes(kind: str, values: Mapping[str, Any]) -> bool:
    limits = THRESHOLDS[kind]
    return all(
        values[name] <= limit if name.startswith("max") else values[name] >= limit for name, limit in limits.items()
    )


def agreement(
    task: Any,
    runs: Mapping[str, Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]],
) -> dict[str, Any]:
    """The agreement report of one bundle run by each of ``runs`` (engine label → the loaded bundle's ``run``)."""
    import time

    start = time.perf_counter()
    names, feeds = held_out(task)
    output = task.outputs()[0]["name"]
    kind = _kind(task)
    reference = np.concatenate([task.reference(feed)[output] for feed in feeds])
    mask = np.concatenate([feed["attention_mask"] for feed in feeds]) if kind == "tokens" else None
    engines = {}
    for label, run in runs.items():
        actual = np.concatenate([np.asarray(run(feed)[output]) for feed in feeds])
        values = figures(kind, reference, actual, mask)
        engines[label] = {**values, "passed": _passes(kind, values)}
    return {
        "checked": True,
        "passed": all(e["passed"] for e in engines.values()),
        "reference": "FP32 eager pipeline (builder(weights) + weights.transforms()), torch",
        "held_out": names,
        "thresholds": {
            name: (f"<= {limit}" if name.startswith("max") else f">= {limit}")
            for name, limit in THRESHOLDS[kind].items()
        },
        "engines": engines,
        "seconds": round(time.perf_counter() - start, 3),
    }


def failure(report: Mapping[str, Any]) -> str:
    """The first engine and figure below its threshold, in one line."""
    kind_limits = {k: v for limits in THRESHOLDS.values() for k, v in limits.items()}
    for engine, values in report["engines"].items():
        if values["passed"]:
            continue
        for name, value in values.items():
            limit = kind_limits.get(name)
            if limit is None or name not in report["thresholds"]:
                continue
            if (value > limit) if name.startswith("max") else (value < limit):
                return f"{name} {value:.3g} on {engine} (needs {report['thresholds'][name]})"
    return "no failing figure"
