"""Parity: an exported bundle, run the way it is deployed, against the eager pipeline.

For every case (the real sample first, then random inputs of other sizes) and every
output: the maximum absolute difference, the maximum relative difference (to the largest
magnitude of the eager output), and whether it is within the task's tolerance. Tasks add
their own checks where a runtime's kernels may round differently from torch's.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import numpy as np

from .tasks._base import Case, TaskExporter

__all__ = ["check_bundle", "compare", "eager_outputs", "max_abs_diff"]


def compare(reference: np.ndarray, actual: np.ndarray, atol: float | None, scores: bool = False) -> dict[str, Any]:
    """One output's differences, and whether they are within ``atol`` (None: report only).

    ``scores``: the output is (batch, classes) scores; the report says whether the top-1 agrees.
    """
    if reference.shape != actual.shape:
        return {"passed": False, "error": f"shape {list(actual.shape)}, eager gives {list(reference.shape)}"}
    if reference.dtype != actual.dtype:
        return {"passed": False, "error": f"dtype {actual.dtype}, eager gives {reference.dtype}"}
    ref = reference.astype(np.float64)
    diff = np.abs(actual.astype(np.float64) - ref)
    if not np.isfinite(diff).all():
        return {"passed": False, "error": "non-finite values where eager has finite ones"}
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    report: dict[str, Any] = {
        "max_abs": max_abs,
        "max_rel": max_abs / scale if scale > 0 else 0.0,
        "atol": atol,
        "passed": atol is None or max_abs <= atol,
    }
    if scores and ref.ndim == 2 and ref.shape[1] > 1:  # scores over classes: does the best one agree?
        report["top1_agree"] = bool((actual.argmax(-1) == reference.argmax(-1)).all())
    return report


def check_bundle(
    task: TaskExporter,
    fmt: str,
    run: Callable[..., Mapping[str, np.ndarray]],
    model_path: Any,
    cases: list[Case],
    references: list[dict[str, np.ndarray]],
) -> dict[str, Any]:
    """The parity report of one bundle (see the module doc); ``run`` is the loaded bundle's ``run``.

    Cases with a seed run with ``run(inputs, seed=...)``, as their references were computed
    right after ``torch.manual_seed(seed)``.
    """
    start = time.perf_counter()
    extra = task.extra_checks(fmt, model_path, cases)
    results = []
    for case, reference in zip(cases, references):
        got = run(case.inputs) if case.seed is None else run(case.inputs, seed=case.seed)
        got = task.align(reference, {name: np.asarray(value) for name, value in got.items()})
        tolerances = task.case_tolerances(fmt, case)
        outputs = {
            name: compare(ref, np.asarray(got[name]), tolerances.get(name), name in task.score_outputs)
            for name, ref in reference.items()
        }
        entry: dict[str, Any] = {"case": case.describe(), "outputs": outputs}
        if case.name in extra:
            entry["checks"] = extra[case.name]
        entry["passed"] = all(o["passed"] for o in outputs.values()) and extra.get(case.name, {}).get("passed", True)
        results.append(entry)
    worst = {
        name: max((r["outputs"][name].get("max_abs", float("inf")) for r in results), default=0.0)
        for name in (references[0] if references else {})
    }
    report: dict[str, Any] = {
        "checked": True,
        "passed": all(r["passed"] for r in results),
        "reference": "eager pipeline: builder(weights) + weights.transforms() + postprocessing, torch, inference_mode",
        "tolerance": {name: {"atol": atol, "on": task.tolerance_note} for name, atol in task.tolerances.items()},
        "max_abs": worst,
        "seconds": round(time.perf_counter() - start, 3),
        "cases": results,
    }
    if task.parity_note:
        report["compared"] = task.parity_note
    return report


def eager_outputs(task: TaskExporter, case: Case) -> dict[str, np.ndarray]:
    """The task's eager reference on one case, seeded like the bundle will be when the case says so."""
    if case.seed is None:
        return task.reference(case.inputs)
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(case.seed)
        return task.reference(case.inputs)


def max_abs_diff(report: Mapping[str, Any]) -> float | None:
    """The largest absolute difference over every output and case (None when not checked)."""
    if not report.get("checked"):
        return None
    values = [v for v in report.get("max_abs", {}).values() if v is not None]
    return max(values) if values else None


def failure_summary(report: Mapping[str, Any]) -> str:
    """The first failing case in one line."""
    for result in report.get("cases", []):
        if result["passed"]:
            continue
        for name, out in result["outputs"].items():
            if not out["passed"]:
                detail = out.get("error") or f"max abs diff {out['max_abs']:.3g} > atol {out['atol']:g}"
                return f"output {name!r} on {result['case']}: {detail}"
        check = result.get("checks", {})
        if not check.get("passed", True):
            return f"{check.get('check', 'check')} on {result['case']}: {check}"
    return "no failing case"
