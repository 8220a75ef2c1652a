"""Deployed inference: the ONNX (onnxruntime), TorchScript and .pt2 bundles vs the eager pipeline.

Both sides include preprocessing and get the same photo (scikit-image's cat, 300x451 uint8)
repeated to batch 1 and 8: eager is ``weights.transforms()`` + the model + softmax under
``torch.inference_mode()``; a bundle, loaded with ``modelver_export.runtime.load(threads=N)``, is given
the uint8 pixels. Both sides use the same number of threads (2 by default).

Models: efficientnet_lite0 with its real weights (installed package) and resnet50 with
``modelver.testing.synthetic_weights`` where its file is not cached (timing does not depend
on the values; the JSON says which were used). modelver has no MobileNet builder:
EfficientNet-Lite0 (MobileNetV2-style inverted residuals without squeeze-excitation, ReLU6,
4.7 M parameters, 0.4 GFLOPs) is the mobile-class representative.

Calls are interleaved round-robin in a shuffled order so that load from other processes
affects every contender alike; each contender gets an untimed call and a short pause first,
since a runtime's worker threads still spinning after its own calls slow down whatever runs
next (onnxruntime's spinning is off in ``modelver_export.runtime``; libgomp's threads behind torch
spin for a while too). Prints medians, the ratio to eager and the largest absolute
difference from eager's probabilities. Targets (batch 1): ONNX <= 0.6x eager for resnet50,
<= 0.4x for efficientnet_lite0.

Reduced precision (``--no-precisions`` leaves it out): the ONNX bundle on OpenVINO in FP32
and with its BF16 hint, the ``.pt2`` bundle under ``torch.autocast`` (BF16) when pt2 is among
the formats, and the INT8 bundle (``export_model(quantize="int8")``) on every installed engine; minilm_l6 (real weights, one sentence of 24 tokens, embeddings) joins the
models. Every row shows its achieved GFLOP/s (the model's FLOPs per call / median time) and
that as a fraction of this machine's peaks measured in the same run: a 4096 x 4096 matrix
product in FP32, BF16 and INT8 (``_precision.py``), before and after the models, the better of the two.
INT8 targets (batch 1, the faster engine): resnet50
<= 0.2x eager FP32, efficientnet_lite0 <= 0.25x, minilm_l6 <= 0.4x.

``--device cuda`` runs eager and the TorchScript / .pt2 bundles on the GPU (ONNX too when
onnxruntime has its CUDA provider); it exits with a message where there is no CUDA device.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from _common import require_device, save, table
from _precision import model_gflop, peak_gflops, precision_runners

MODELS = ("efficientnet_lite0", "resnet50", "minilm_l6")
IMAGE_MODELS = ("efficientnet_lite0", "resnet50")
FORMATS = ("onnx", "torchscript", "pt2")
TARGETS = {"efficientnet_lite0": 0.4, "resnet50": 0.6}  # ONNX / eager at batch 1
PEAK_LABEL = "4096x4096 torch.mm / torch._int_mm"
PRECISIONS = ("fp32", "bf16", "int8")  # the peaks each row is read against
INT8_TARGETS = {"resnet50": 0.2, "efficientnet_lite0": 0.25, "minilm_l6": 0.4}  # INT8 (faster engine) / eager
#: the text benchmark's input: one sentence, 24 tokens with [CLS] and [SEP]
SENTENCE = "The weather is lovely today, and it's so sunny outside that we all went for a long walk."


def build(name: str) -> tuple[Any, Any, str]:
    """The model with its DEFAULT weights if they load offline, else with synthetic weights."""
    from modelver import get_model_builder, get_model_weights
    from modelver.errors import ModelverError
    from modelver.testing import synthetic_weights

    builder = get_model_builder(name)
    weights = get_model_weights(builder).DEFAULT
    os.environ["MODELVER_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"  # never download: real file if cached
    try:
        return builder(weights=weights, progress=False).eval(), weights, "real"
    except ModelverError:
        with synthetic_weights(seed=0):
            return builder(weights=weights).eval(), weights, "synthetic (seed 0)"
    finally:
        del os.environ["MODELVER_OFFLINE"], os.environ["HF_HUB_OFFLINE"]


def bundle_runner(
    fmt: str, directory: Path, threads: int, device: str, spin: bool = False, precision: str = "fp32"
) -> Callable[[np.ndarray], np.ndarray] | None:
    """A function pixels -> probabilities running the bundle in ``directory``; None if it cannot run on device."""
    from modelver_export.runtime import load

    if device == "cpu":
        bundle = load(directory, threads=threads, spin=spin, trust_code=True, precision=precision)  # its own bundles
        return lambda pixels: bundle.run(pixels)["probabilities"]
    import torch
    from modelver_export.registry import get_format

    path = directory / get_format(fmt).model_file
    if fmt == "onnx":
        import onnxruntime

        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            return None  # onnxruntime (CPU build) has no CUDA provider: pip install onnxruntime-gpu
        session = onnxruntime.InferenceSession(str(path), providers=["CUDAExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda pixels: session.run(["probabilities"], {name: pixels})[0]
    if fmt == "torchscript":
        module = torch.jit.load(str(path), map_location="cuda").eval()
    else:
        from torch.export.passes import move_to_device_pass

        module = move_to_device_pass(torch.export.load(str(path)), "cuda").module()

    def run(pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(pixels).to("cuda"))
        return (out[0] if isinstance(out, (tuple, list)) else out).cpu().numpy()

    return run


def measure(contenders: dict[str, Callable[[], np.ndarray]], rounds: int, block: int, gap: float) -> dict[str, float]:
    """Median seconds per call, interleaved round-robin in a shuffled order."""
    for fn in contenders.values():  # warm-up (TorchScript profiles its first calls)
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            time.sleep(gap)  # lets the previous contender's worker threads go idle
            contenders[name]()  # untimed
            for _ in range(block):
                start = time.perf_counter()
                contenders[name]()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def bench_model(name: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import torch
    from modelver_export import export_model

    from modelver.predict import sample_image

    model, weights, source = build(name)
    preprocess = weights.transforms()
    runners: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    skipped: dict[str, str] = {}
    onnx_dir = None
    for fmt in args.formats:
        (result,) = export_model(
            name, weights=weights, formats=fmt, out=out / name, model=model, check=False, progress=None
        )
        onnx_dir = result.path if fmt == "onnx" else onnx_dir
        runner = bundle_runner(fmt, result.path, args.threads, args.device, args.spin)
        if runner is None:
            skipped[fmt] = "onnxruntime has no CUDAExecutionProvider here (pip install onnxruntime-gpu)"
        else:
            runners[fmt] = runner
        if fmt == "pt2" and args.precisions and args.device == "cpu":  # BF16 through torch.autocast
            from modelver_export.runtime.loaders import torch_has_bf16

            if torch_has_bf16():
                runners["pt2 bf16 torch"] = bundle_runner(fmt, result.path, args.threads, "cpu", precision="bf16")
            else:
                skipped["pt2 bf16 torch"] = "this CPU has no BF16 instructions"
    if args.precisions and args.device == "cpu":
        extra, why = precision_runners(
            name, weights, model, out, args.threads, onnx_dir, lambda b: (lambda x: b.run(x)["probabilities"])
        )
        runners.update(extra)
        skipped.update(why)
    crop = preprocess.crop_size
    gflop = model_gflop(model, torch.zeros(1, 3, crop, crop))
    torch.set_num_threads(args.threads)  # the runtime set it for the torch bundles; eager gets the same
    model = model.to(args.device)

    photo = np.asarray(sample_image("chelsea")).transpose(2, 0, 1)
    per_batch: dict[str, Any] = {}
    for batch in args.batches:
        pixels = np.ascontiguousarray(np.repeat(photo[None], batch, axis=0))

        def eager(pixels: np.ndarray = pixels) -> np.ndarray:
            with torch.inference_mode():
                images = torch.from_numpy(pixels).to(args.device)
                return model(preprocess(images)).softmax(-1).cpu().numpy()

        contenders: dict[str, Callable[[], np.ndarray]] = {"eager": eager}
        contenders.update({fmt: (lambda run=run, x=pixels: run(x)) for fmt, run in runners.items()})
        reference = eager()
        diffs = {key: float(np.abs(fn() - reference).max()) for key, fn in contenders.items()}
        seconds = measure(contenders, args.rounds, args.block, args.gap)
        per_batch[str(batch)] = {
            key: {"median_ms": s * 1000, "ratio": s / seconds["eager"], "max_abs_diff": diffs[key],
                  "gflops": gflop * batch / s}
            for key, s in seconds.items()
        }  # fmt: skip
    return {"weights": str(weights), "values": source, "gflop_per_item": gflop,
            "batches": per_batch, "skipped": skipped}


def bench_text(name: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """minilm_l6: eager on the token ids vs the ONNX bundle (FP32, BF16, INT8) on the same ids; embeddings."""
    import torch
    from modelver_export import export_model
    from modelver_export.runtime import load

    model, weights, source = build(name)
    (fp32,) = export_model(name, weights=weights, formats="onnx", out=out / name, model=model, check=False,
                           progress=None)  # fmt: skip
    runners: dict[str, Callable[[Any], np.ndarray]] = {}
    bundle = load(fp32.path, threads=args.threads, engine="onnxruntime")
    runners["onnx"] = lambda feeds: bundle.run(feeds)["embeddings"]
    skipped: dict[str, str] = {}
    if args.precisions:
        extra, skipped = precision_runners(
            name, weights, model, out, args.threads, fp32.path, lambda b: (lambda f: b.run(f)["embeddings"])
        )
        runners.update(extra)
    torch.set_num_threads(args.threads)
    per_batch: dict[str, Any] = {}
    for batch in args.batches:
        feeds = {k: np.ascontiguousarray(v) for k, v in bundle.tokenizer([SENTENCE] * batch).items()}
        tensors = [torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"])]
        gflop = model_gflop(model, *tensors)

        def eager(tensors: list[Any] = tensors) -> np.ndarray:
            with torch.inference_mode():
                return model(*tensors).numpy()

        contenders: dict[str, Callable[[], np.ndarray]] = {"eager": eager}
        contenders.update({key: (lambda run=run, f=feeds: run(f)) for key, run in runners.items()})
        reference = eager()
        diffs = {key: float(np.abs(fn() - reference).max()) for key, fn in contenders.items()}
        seconds = measure(contenders, args.rounds, args.block, args.gap)
        per_batch[str(batch)] = {
            key: {"median_ms": s * 1000, "ratio": s / seconds["eager"], "max_abs_diff": diffs[key],
                  "gflops": gflop / s}
            for key, s in seconds.items()
        }  # fmt: skip
    tokens = int(bundle.tokenizer([SENTENCE])["attention_mask"].sum())
    return {"weights": str(weights), "values": source, "tokens": tokens, "batches": per_batch, "skipped": skipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=8, help="round-robin rounds (default 8)")
    parser.add_argument("--block", type=int, default=3, help="timed calls per contender per round (default 3)")
    parser.add_argument("--gap", type=float, default=0.05, help="pause in seconds before each contender's block")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2 calls: a rough figure in a minute or two")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--spin", action="store_true", help="ONNX: threads spin between runs (modelver_export.runtime.load(spin=True))"
    )
    parser.add_argument("--results", default=None, help="name of the results file (default: bundles[_device_threads])")
    parser.add_argument(
        "--no-precisions", dest="precisions", action="store_false",
        help="leave out the INT8 / BF16 rows (OpenVINO and the INT8 bundles)",
    )  # fmt: skip
    args = parser.parse_args()
    require_device(args.device)
    if args.quick:
        args.rounds, args.block = 3, 2
    random.seed(0)
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if args.device == "cpu" and load > 0.5:
        print(
            f"note: load average {load:.1f} on {cpus} cores. When a core is taken by another process, torch's\n"
            "OpenMP threads (eager, TorchScript, .pt2) wait for each other at every operator, which inflates their\n"
            "times far more than onnxruntime's: ratios to eager are then flattering. Rerun on a quiet machine, or\n"
            "compare with --threads 1 (no waiting between threads).",
            flush=True,
        )

    results: dict[str, Any] = {}
    peaks = peak_gflops(args.threads) if args.device == "cpu" else {}
    if peaks:
        print(f"peak: {PEAK_LABEL} FP32 {peaks['fp32']:.0f}, BF16 {peaks['bf16']:.0f}, INT8 {peaks['int8']:.0f} GFLOP/s",
              flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            print(f"== {name}: exporting {', '.join(args.formats)} and timing ...", flush=True)
            bench = bench_model if name in IMAGE_MODELS else bench_text
            results[name] = bench(name, args, Path(tmp))
    peaks_after = peak_gflops(args.threads) if args.device == "cpu" else {}
    peaks = {p: max(peaks[p], peaks_after[p]) for p in peaks}  # the machine's peak: the better of the two runs

    samples = args.rounds * args.block
    print(f"\nDeployed inference ({args.device}, {args.threads} threads), preprocessing included, "
          f"median of {samples} calls; ratio = time / eager's; % of the FP32 / BF16 / INT8 peak ({PEAK_LABEL}, same run)")
    rows = []
    for name, result in results.items():
        for batch, timings in result["batches"].items():
            for key, t in timings.items():
                share = [f"{t['gflops'] / peaks[p]:.0%}" for p in PRECISIONS] if peaks else ["-"] * len(PRECISIONS)
                rows.append([name, batch, key, t["median_ms"], t["ratio"], f"{t['max_abs_diff']:.1e}",
                             f"{t['gflops']:.0f}", *share])  # fmt: skip
        for fmt, why in result["skipped"].items():
            rows.append([name, "-", fmt, "skipped", why, "", "", "", "", ""])
    print(table(["model", "batch", "runs", "median ms", "x eager", "max abs diff", "GFLOP/s", "% FP32 peak",
                 "% BF16 peak", "% INT8 peak"], rows))  # fmt: skip
    for name, target in TARGETS.items():
        if name in results and "onnx" in results[name]["batches"].get("1", {}):
            ratio = results[name]["batches"]["1"]["onnx"]["ratio"]
            verdict = "met" if ratio <= target else "MISSED"
            print(f"target: ONNX <= {target}x eager for {name} at batch 1: {ratio:.2f}x ({verdict})")
    for name, target in INT8_TARGETS.items():
        timings = results.get(name, {}).get("batches", {}).get("1", {})
        int8 = {key: t["ratio"] for key, t in timings.items() if key.startswith("onnx int8")}
        if int8:
            best = min(int8, key=int8.__getitem__)
            verdict = "met" if int8[best] <= target else "MISSED"
            print(f"target: INT8 <= {target}x eager for {name} at batch 1: {int8[best]:.2f}x on {best} ({verdict})")
    suffix = "" if (args.device, args.threads) == ("cpu", 2) else f"_{args.device}_{args.threads}threads"
    suffix += "_spin" if args.spin else ""
    save(args.results or f"bundles{suffix}", {
        "device": args.device, "threads": args.threads, "rounds": args.rounds, "block": args.block, "spin": args.spin,
        "photo": "skimage.data.chelsea() 300x451", "sentence": SENTENCE, "results": results,
        "peak_gflops": {"best": peaks, "after": peaks_after, "gemm": PEAK_LABEL},
    })


if __name__ == "__main__":
    main()
