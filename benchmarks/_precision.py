"""Reduced precision in the bundle benchmark: INT8 / BF16 contenders per engine, FLOPs and the machine's peak.

- ``peak_gflops``: the largest GEMM this machine does in the same run (4096 x 4096, the
  benchmark's thread count: ``torch.mm`` in FP32 and BF16, ``torch._int_mm`` int8 x int8 -> int32
  for INT8, one "FLOP" per multiply and per add as for the others): every row's GFLOP/s is
  read against them.
- ``model_gflop``: the FLOPs of one call of the model (torch's FlopCounterMode: 2 per
  multiply-add of convolutions and matrix products; preprocessing, activations and pooling
  are a rounding error next to them).
- ``precision_runners``: the ONNX bundle on OpenVINO (FP32 and its BF16 hint) and the INT8
  bundle (``export_model(quantize="int8")``) on every installed engine.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, Callable

PEAK_SIZE = 4096


def peak_gflops(threads: int, repeats: int = 5) -> dict[str, float]:
    """GFLOP/s (GOP/s for int8) of a ``PEAK_SIZE``-square matrix product in FP32, BF16 and INT8 (median of ``repeats``)."""
    import torch

    torch.set_num_threads(threads)
    peaks = {}
    a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
    a16, b16 = a.bfloat16(), b.bfloat16()
    int8 = [torch.randint(-128, 128, (PEAK_SIZE, PEAK_SIZE), dtype=torch.int8) for _ in range(2)]
    products = {
        "fp32": lambda: torch.mm(a, b),
        "bf16": lambda: torch.mm(a16, b16),
        "int8": lambda: torch._int_mm(*int8),  # oneDNN's u8s8/s8s8 GEMM (VNNI / AMX where the CPU has them)
    }
    for label, product in products.items():
        product()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            product()
            times.append(time.perf_counter() - start)
        peaks[label] = 2 * PEAK_SIZE**3 / statistics.median(times) / 1e9
    return peaks


def model_gflop(model: Any, *example: Any) -> float:
    """GFLOPs of one forward call of ``model`` on ``example``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(*example)
    return counter.get_total_flops() / 1e9


def precision_runners(
    name: str, weights: Any, model: Any, out: Path, threads: int, fp32_dir: Path | None, run: Callable[[Any], Any]
) -> tuple[dict[str, Callable[[Any], Any]], dict[str, str]]:
    """Contenders ``label → inputs -> output`` for the reduced-precision rows, and those skipped (label → why).

    ``run(bundle)`` turns a loaded bundle into the benchmark's call (pixels → probabilities, or
    token feeds → embeddings); ``fp32_dir``: the FP32 ONNX bundle already exported (None: export it).
    """
    from modelver_export import export_model
    from modelver_export.runtime import load
    from modelver_export.runtime.engine_choice import available_engines, cpu_capabilities

    runners: dict[str, Callable[[Any], Any]] = {}
    skipped: dict[str, str] = {}
    if fp32_dir is None:
        (fp32,) = export_model(name, weights=weights, formats="onnx", out=out / name, model=model, check=False,
                               progress=None)  # fmt: skip
        fp32_dir = fp32.path
    (int8,) = export_model(name, weights=weights, formats="onnx", out=out / f"{name}-int8", model=model,
                           quantize="int8", check=False, progress=None)  # fmt: skip
    engines = available_engines()
    if "openvino" in engines:
        runners["onnx fp32 openvino"] = run(load(fp32_dir, threads=threads, engine="openvino"))
        if "BF16" in cpu_capabilities():
            runners["onnx bf16 openvino"] = run(load(fp32_dir, threads=threads, engine="openvino", precision="bf16"))
        else:
            skipped["onnx bf16 openvino"] = "this CPU has no BF16 instructions"
    else:
        skipped["openvino"] = "not installed (pip install 'modelver[openvino]')"
    for engine in engines:
        runners[f"onnx int8 {engine}"] = run(load(int8.path, threads=threads, engine=engine))
    return runners, skipped
