"""Deployed inference of exported bundles against the eager pipeline, and export time per format.

    .venv/bin/python benchmarks/bundles.py [--model efficientnet_lite0] [--rounds 10] [--json out.json]

Both sides include preprocessing: eager is ``weights.transforms()`` + the model + softmax
under ``torch.inference_mode()``; a bundle is given the photo's uint8 pixels. Threads are
fixed (2 by default) on both sides; calls are interleaved round-robin so that load from
other processes affects every contender alike: each round runs every contender for a short
block (in a shuffled order), since a runtime's worker threads idling right after its own
call would otherwise slow down whatever is timed next. Prints medians, the ratio to eager
and the largest difference from eager.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from export import export_model
from export.runtime import load
from modelver import get_model_builder, get_model_weights
from modelver.predict import sample_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    random.seed(0)
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--formats", default="onnx,torchscript,pt2")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=5, help="timed calls per contender per round")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    builder = get_model_builder(args.model)
    weights = get_model_weights(builder).DEFAULT
    model = builder(weights=weights).eval()
    preprocess = weights.transforms()
    results: dict[str, Any] = {
        "model": args.model,
        "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "export_seconds": {},
        "inference_ms": {},
    }
    with tempfile.TemporaryDirectory() as out:
        bundles = {}
        for fmt in args.formats.split(","):
            (r,) = export_model(args.model, weights=weights, formats=fmt, out=out, model=model, progress=None)
            results["export_seconds"][fmt] = round(r.seconds, 2)
            bundles[fmt] = load(r.path, threads=args.threads)
        print(f"{args.model}: export time " + ", ".join(f"{k} {v:.1f} s" for k, v in results["export_seconds"].items()))

        photo = np.asarray(sample_image("chelsea")).transpose(2, 0, 1)
        for batch in map(int, args.batches.split(",")):
            pixels = np.ascontiguousarray(np.repeat(photo[None], batch, axis=0))
            tensor = torch.from_numpy(pixels)

            def eager(tensor: torch.Tensor = tensor) -> np.ndarray:
                with torch.inference_mode():
                    return model(preprocess(tensor)).softmax(-1).numpy()

            contenders: dict[str, Callable[[], np.ndarray]] = {"eager": eager}
            for fmt, bundle in bundles.items():
                contenders[fmt] = lambda b=bundle, x=pixels: b.run(x)["probabilities"]
            reference = eager()
            diffs = {name: float(np.abs(fn() - reference).max()) for name, fn in contenders.items()}
            for fn in contenders.values():  # warm-up (TorchScript profiles its first calls)
                for _ in range(3):
                    fn()
            times: dict[str, list[float]] = {name: [] for name in contenders}
            order = list(contenders)
            for _ in range(args.rounds):
                random.shuffle(order)
                for name in order:
                    contenders[name]()  # untimed: lets the previous contender's threads go idle
                    for _ in range(args.block):
                        start = time.perf_counter()
                        contenders[name]()
                        times[name].append(time.perf_counter() - start)
            medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
            results["inference_ms"][f"batch {batch}"] = {
                name: {"median_ms": round(ms, 2), "ratio": round(ms / medians["eager"], 3), "max_abs_diff": diffs[name]}
                for name, ms in medians.items()
            }
            print(
                f"\nbatch {batch}, {args.threads} threads, photo {photo.shape[1]}x{photo.shape[2]}, medians of {args.rounds * args.block}"
            )
            print(f"  {'':<12} {'ms':>8} {'x eager':>8} {'max diff':>9}")
            for name, ms in medians.items():
                print(f"  {name:<12} {ms:8.2f} {ms / medians['eager']:8.2f} {diffs[name]:9.1e}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
