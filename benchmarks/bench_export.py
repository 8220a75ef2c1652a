"""Export time per format: `export_model(name, formats=FMT)` for efficientnet_lite0 and resnet50.

Each (model, format) export runs in a fresh interpreter, as `modelver export NAME --formats FMT`
would, so the first-use costs of each exporter (torch.export / dynamo tracing, onnxscript) are
counted; runs are interleaved round-robin across models and formats. We report the median
export time (writing the bundle: trace, convert, serialise, without building the model) and
the parity check that follows it (load the bundle through modelver_export.runtime, compare with eager),
both wall time, and the process CPU time of the two together (all threads): on a busy machine
the wall time grows with the load, the CPU time much less.
efficientnet_lite0 uses its real weights; resnet50 synthetic ones unless its file is cached
(export time does not depend on the values). ``onnx-int8`` is ``--format onnx --quantize int8``:
its export time includes quantization and its check is the agreement check on every installed
engine. Targets: ONNX export of efficientnet_lite0 <= 15 s; its quantized export <= 60 s for
the whole ``export_model`` call (quantization, the agreement check and the engine timings).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys

from _common import ROOT, require_device, run_python, save, table

MODELS = ("efficientnet_lite0", "resnet50")
FORMATS = ("onnx", "torchscript", "pt2", "onnx-int8")
TARGETS = {("efficientnet_lite0", "onnx"): 15.0, ("efficientnet_lite0", "onnx-int8"): 60.0}  # seconds
WHOLE = {"onnx-int8"}  # the target counts the whole export_model call: quantization and every check are part of it

EXPORT = """
import json, sys, tempfile, time
from bench_bundles import build
from modelver_export import export_model
name, fmt = sys.argv[1:3]
fmt, _, quantize = fmt.partition("-")
model, weights, source = build(name)
with tempfile.TemporaryDirectory() as out:
    cpu, wall = time.process_time(), time.perf_counter()
    (r,) = export_model(name, weights=weights, formats=fmt, out=out, model=model, progress=None,
                        quantize=quantize or None)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(json.dumps({"export_s": r.seconds, "cpu_s": cpu, "call_s": wall, "check_s": (r.agreement or r.parity).get("seconds"),
                  "max_abs_diff": r.max_abs_diff if not quantize else r.agreement["engines"],
                  "size_mb": r.size / 2**20, "values": source}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--repeat", type=int, default=2, help="fresh processes per (model, format), default 2")
    parser.add_argument("--quick", action="store_true", help="one run each")
    parser.add_argument("--device", default="cpu", help="cpu only: exports trace on the CPU")
    args = parser.parse_args()
    require_device(args.device)
    if args.device != "cpu":
        sys.exit("--device: bundles are exported on the CPU; bench_bundles.py --device cuda times them on the GPU.")
    repeat = 1 if args.quick else args.repeat
    random.seed(0)
    pairs = [(name, fmt) for name in args.models for fmt in args.formats]
    samples: dict[tuple[str, str], list[dict]] = {pair: [] for pair in pairs}
    for i in range(repeat):
        random.shuffle(pairs)
        for name, fmt in pairs:
            print(f"   [{i + 1}/{repeat}] {name} -> {fmt}", flush=True)
            output = run_python(EXPORT, name, fmt, env={"PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}"})
            line = output.strip().splitlines()[-1]
            samples[(name, fmt)].append(json.loads(line))

    rows, results = [], {}
    for (name, fmt), runs in sorted(samples.items()):
        export_s = statistics.median(r["export_s"] for r in runs)
        check_s = statistics.median(r["check_s"] for r in runs)
        cpu_s = statistics.median(r["cpu_s"] for r in runs)
        target = TARGETS.get((name, fmt))
        call_s = statistics.median(r["call_s"] for r in runs)  # the whole export_model call, every check included
        counted = call_s if fmt in WHOLE else export_s
        verdict = "" if target is None else f"<= {target:g} s: {'met' if counted <= target else 'MISSED'}"
        if fmt in WHOLE:
            verdict = verdict and f"whole call {call_s:.1f} s {verdict}"
        quality = runs[0]["max_abs_diff"]
        diff = f"{quality:.1e}" if isinstance(quality, float) else "agreement: " + ", ".join(
            f"{engine} {'ok' if figures['passed'] else 'FAILED'}" for engine, figures in quality.items()
        )
        rows.append([name, fmt, export_s, check_s, cpu_s, runs[0]["size_mb"], diff, verdict])
        results.setdefault(name, {"values": runs[0]["values"]})[fmt] = {
            "export_s": export_s, "check_s": check_s, "export_and_check_cpu_s": cpu_s, "size_mb": runs[0]["size_mb"],
            "max_abs_diff": runs[0]["max_abs_diff"], "samples_export_s": [r["export_s"] for r in runs],
            "call_s": call_s,
        }
    print(f"\nExport time per format, median of {repeat} fresh processes (building the model not included)\n")
    headers = ["model", "format", "export s", "check s", "CPU s (both)", "size MiB", "max abs diff / agreement", "target"]
    print(table(headers, rows))
    save("export", {"repeat": repeat, "results": results})


if __name__ == "__main__":
    main()
