"""The export's checks on every installed ONNX engine (onnxruntime, OpenVINO): parity, INT8 agreement; BF16.

The exporter checks each ONNX bundle the deployed way, ``runtime.load(directory,
engine=...)``, once per installed engine, and records each result in ``bundle.json``:

- FP32: the parity check (:mod:`modelver_export.parity`) on every other engine, under
  ``parity.engines``. A failure there is recorded, not raised (onnxruntime's result decides
  the export): ``engine="auto"`` then never picks that engine for the bundle, and asking for
  it is refused;
- INT8: agreement with FP32 (:mod:`modelver_export.agreement`) on every engine, under
  ``agreement.engines``; the export is refused when any engine is below the thresholds;
- BF16: on a CPU with BF16, agreement of the FP32 bundle run in BF16, under ``bf16``: ONNX
  bundles with OpenVINO's BF16 hint (where OpenVINO is installed), ``.pt2`` bundles under
  ``torch.autocast``; recorded, and ``load(precision="bf16")`` refuses a bundle whose BF16 run
  strayed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from modelver.errors import BundleError

__all__ = ["agreement_on_engines", "bf16_agreement", "parity_on_engines"]

Say = Callable[[str], None]
#: timed calls per engine (after one untimed call), interleaved across engines
TIMED_ROUNDS = 5


def time_engines(runs: dict[str, Callable[[Any], Any]], feeds: Any) -> dict[str, float]:
    """Median milliseconds of one call per engine on ``feeds``, the engines taking turns (load hits all alike)."""
    import statistics
    import time

    for run in runs.values():
        run(feeds)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(TIMED_ROUNDS):
        for name, run in runs.items():
            start = time.perf_counter()
            run(feeds)
            times[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(t) * 1000, 3) for name, t in times.items()}


def _figures(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in values.items() if isinstance(v, float))


def parity_on_engines(
    task: Any, fmt: Any, directory: Path, cases: list[Any], references: list[Any], say: Say
) -> dict[str, Any]:
    """Engine → ``{"passed", "max_abs"[, "error"], "ms"}`` for every installed engine but onnxruntime (``ms``:
    the median time of one call on the first case, measured with onnxruntime's in :func:`timed_on_export`)."""
    from . import runtime
    from .parity import check_bundle, failure_summary
    from .runtime.engine_choice import available_engines

    found: dict[str, Any] = {}
    for engine in available_engines():
        if engine == "onnxruntime":
            continue
        try:
            bundle = runtime.load(directory, engine=engine)
            report = check_bundle(task, fmt, bundle.run, bundle.model_file, cases, references)
        except BundleError as exc:
            found[engine] = {"passed": False, "error": str(exc)}
        else:
            found[engine] = {"passed": report["passed"], "max_abs": report["max_abs"]}
            if not report["passed"]:
                found[engine]["error"] = failure_summary(report)
        verdict = "ok" if found[engine]["passed"] else f"FAILED ({found[engine]['error']}); auto will not pick it"
        say(f"    {fmt.name}: parity on {engine}: {verdict}")
    return found


def agreement_on_engines(task: Any, directory: Path, say: Say, fmt: Any) -> dict[str, Any]:
    """Agreement of the reduced-precision bundle in ``directory`` with FP32, on every installed engine."""
    from . import runtime
    from .agreement import agreement
    from .runtime.engine_choice import available_engines

    runs = {engine: runtime.load(directory, engine=engine).run for engine in available_engines()}
    report = agreement(task, runs)
    from .agreement import held_out

    timed = time_engines({e: r for e, r in runs.items() if report["engines"][e]["passed"]}, held_out(task)[1][0])
    for engine, ms in timed.items():
        report["engines"][engine]["ms"] = ms
    report["timed_on"] = "the first held-out input, batch 1, median of 5 interleaved calls, at export"
    for engine, values in report["engines"].items():
        verdict = "ok" if values["passed"] else "FAILED"
        say(f"    {fmt.name}: agreement with FP32 on {engine}: {verdict} ({_figures(values)})")
    return report


def bf16_agreement(task: Any, directory: Path, say: Say, fmt: Any) -> dict[str, Any] | None:
    """BF16 against FP32 on the held-out inputs: ONNX bundles on OpenVINO, ``.pt2`` under torch.autocast.

    One more run over the held-out inputs (8 photos, or one batch of sentences); None for other
    formats and tasks, and where this install or CPU has no BF16.
    """
    from . import runtime
    from .agreement import agreement
    from .quantize import IMAGE_TASKS, TEXT_TASKS
    from .runtime.engine_choice import TORCH_BF16_FORMATS, available_engines, cpu_capabilities
    from .runtime.loaders import torch_has_bf16

    if task.task not in (*IMAGE_TASKS, *TEXT_TASKS):
        return None
    if fmt.name in TORCH_BF16_FORMATS and torch_has_bf16():
        label, where, options = "torch (bf16)", "torch.autocast", {"trust_code": True}
    elif fmt.needs == "onnx" and "openvino" in available_engines() and "BF16" in cpu_capabilities():
        label, where, options = "openvino (bf16)", "OpenVINO", {"engine": "openvino"}
    else:
        return None
    report = agreement(task, {label: runtime.load(directory, precision="bf16", **options).run})
    values = report["engines"][label]
    say(f"    {fmt.name}: BF16 ({where}) agreement with FP32: {'ok' if values['passed'] else 'FAILED'} "
        f"({_figures(values)})")  # fmt: skip
    return report


def timed_on_export(directory: Path, engines: dict[str, Any], feeds: Any) -> None:
    """Add ``ms`` (median of one call on ``feeds``) to each passing engine's entry; ``auto`` picks the fastest."""
    from . import runtime

    runs = {name: runtime.load(directory, engine=name).run for name, result in engines.items() if result["passed"]}
    for name, ms in time_engines(runs, feeds).items():
        engines[name]["ms"] = ms
