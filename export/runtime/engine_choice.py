"""Which engine runs an ONNX bundle: ``engine="auto"`` resolved, and ``precision`` checked. No torch.

``auto`` only picks among the installed engines that passed the bundle's export check (its
manifest records parity, or agreement for INT8, per engine, and each engine's time):

- INT8 bundles → the engine **fastest at export** (the export times every engine that passed
  on the same input, interleaved, and records ``ms`` per engine in ``bundle.json``);
- FP32 bundles → onnxruntime, the engine the parity reference and every FP32 figure is
  defined on (OpenVINO's FP32 was not faster on this project's CPU, and a default that moved
  between engines with the export's timing noise would move results by ~1e-7 between exports);
- ``precision="bf16"`` → OpenVINO, the only engine here with a BF16 mode;
- no timing record (a bare ``.onnx`` file, one engine installed at export) → onnxruntime: it
  runs every bundle and fuses both INT8 recipes into integer kernels; in
  ``benchmarks/bench_bundles.py`` it was within 25% of OpenVINO for the image INT8 bundles
  (ahead on EfficientNet-Lite0), behind it for MiniLM's (~1.5x, per-call overhead at 24 tokens).

``precision``: ``"fp32"`` (default) or ``"bf16"`` (OpenVINO's ``INFERENCE_PRECISION_HINT``, on
CPUs with AVX-512 BF16 or AMX). The torch formats have no engine to choose; ``.pt2`` bundles
run in BF16 under ``torch.autocast`` (:func:`torch_precision`), TorchScript has no BF16 mode.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, Mapping

from modelver.errors import BundleError

from .. import registry
from .._bundle import META_DIGEST_KEY

__all__ = [
    "DEFAULT_REASON", "PRECISIONS", "available_engines", "checked_engines", "choose_engine", "cpu_capabilities",
    "peek_meta", "torch_precision",
]  # fmt: skip

PRECISIONS = ("fp32", "bf16")
#: the torch formats with a BF16 mode (torch.autocast on an exported program)
TORCH_BF16_FORMATS = ("pt2",)
DEFAULT_REASON = "auto: FP32 bundle on onnxruntime"
#: the module each built-in engine imports (an engine registered by a plugin counts as installed)
_MODULES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}
_INSTALL = {"onnxruntime": "pip install onnxruntime", "openvino": "pip install 'modelver[openvino]' (or openvino)"}


def available_engines() -> list[str]:
    """The registered ONNX engines whose library is installed here, onnxruntime first."""
    names = registry.engine_names()
    return [n for n in names if n not in _MODULES or importlib.util.find_spec(_MODULES[n]) is not None]


def cpu_capabilities() -> list[str]:
    """OpenVINO's view of this CPU (``FP32``, ``BF16``, ``INT8``, ...); [] without OpenVINO."""
    if importlib.util.find_spec("openvino") is None:
        return []
    import openvino

    return list(openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def peek_meta(path: Path) -> dict[str, Any] | None:
    """The meta of a bare ``.onnx`` file, without building a session; None if it cannot be read here."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        return {p.key: json.loads(p.value) for p in model.metadata_props if p.key != META_DIGEST_KEY}
    except Exception:  # noqa: BLE001 - the engine's loader reports what is wrong with the file
        return None


def checked_engines(manifest: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Engine → its parity (FP32) or agreement (INT8) result recorded at export; {} when none was."""
    for key in ("agreement", "parity"):
        report = (manifest or {}).get(key)
        if isinstance(report, dict) and isinstance(report.get("engines"), dict):
            return {k: v for k, v in report["engines"].items() if isinstance(v, dict)}
    return {}


def _quantization(meta: Mapping[str, Any] | None) -> str | None:
    quantization = (meta or {}).get("quantization")
    return quantization.get("method") if isinstance(quantization, dict) else None


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise BundleError(f"Unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}.")


def _refuse_strayed_bf16(manifest: Mapping[str, Any] | None) -> None:
    """A bundle whose BF16 agreement check failed at export (``bf16`` in its manifest) is not run in BF16."""
    bf16 = (manifest or {}).get("bf16")
    if isinstance(bf16, dict) and bf16.get("passed") is False:
        raise BundleError(
            "This bundle's BF16 run strayed from FP32 at export (see 'bf16' in its bundle.json); use fp32."
        )


def torch_precision(fmt: str, precision: str, manifest: Mapping[str, Any] | None) -> str:
    """Why a torch-format bundle runs in ``precision`` ("" for FP32); one line when it cannot."""
    _check_precision(precision)
    if precision == "fp32":
        return ""
    if fmt not in TORCH_BF16_FORMATS:
        raise BundleError(
            f"precision='bf16' runs .pt2 bundles under torch.autocast and ONNX bundles on OpenVINO; {fmt} has no "
            "BF16 mode: export the model with --format pt2 (or onnx) and load that."
        )
    _refuse_strayed_bf16(manifest)
    return "BF16 runs on torch.autocast"


def choose_engine(
    engine: str, precision: str, meta: Mapping[str, Any] | None, manifest: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """(engine, why) for a request on an ONNX bundle with this meta and manifest."""
    _check_precision(precision)
    if engine != "auto":
        registry.get_engine(engine)  # an unknown name: one line listing the registered engines
    if precision == "bf16" and engine not in ("auto", "openvino"):
        raise BundleError(
            f"precision='bf16' runs on OpenVINO (engine='openvino' or 'auto'); {engine} has no BF16 mode here."
        )
    if precision == "bf16":
        _refuse_strayed_bf16(manifest)
    checked = checked_engines(manifest)
    failed = {name for name, result in checked.items() if not result.get("passed", False)}
    installed = available_engines()
    if engine != "auto":
        if engine not in installed:
            raise BundleError(f"The {engine} engine is not installed here: {_INSTALL.get(engine, 'install it')}.")
        if engine in failed:
            why = checked[engine].get("error") or "outside the thresholds"
            others = ", ".join(sorted(set(checked) - failed)) or "onnxruntime"
            raise BundleError(f"This bundle failed its export check on {engine} ({why}); run it on {others}.")
        return engine, "asked for"
    method = _quantization(meta)
    timed = {n: r["ms"] for n, r in checked.items() if n in installed and n not in failed and "ms" in r}
    if precision == "fp32" and method is not None and len(timed) > 1:  # INT8: the engine fastest at export
        fastest = min(timed, key=timed.__getitem__)
        others = ", ".join(f"{timed[n]:.3g} ms on {n}" for n in timed if n != fastest)
        return fastest, f"auto: the fastest at export, {timed[fastest]:.3g} ms vs {others}"
    if precision == "bf16":
        wanted, why = "openvino", "BF16 runs on OpenVINO"
    elif method is not None:
        wanted, why = "onnxruntime", f"auto: {method} INT8 bundle, onnxruntime's fused int8 kernels are the faster"
    else:
        wanted, why = "onnxruntime", DEFAULT_REASON
    if wanted in installed and wanted not in failed:
        return wanted, why
    if precision == "bf16":
        raise BundleError(f"precision='bf16' needs OpenVINO: {_INSTALL['openvino']}.")
    fallback = next((name for name in installed if name not in failed), None)
    if fallback is None:
        raise BundleError(f"No installed engine passed this bundle's export check; install {_INSTALL['onnxruntime']}.")
    reason = "failed this bundle's export check" if wanted in failed else f"is not installed: {_INSTALL[wanted]}"
    return fallback, f"auto: {wanted} (the faster for this bundle) {reason}"
