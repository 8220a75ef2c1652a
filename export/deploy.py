"""The ``serve`` and ``batch`` commands, plugged into ``modelver`` through the ``modelver.commands`` entry point.

``modelver serve BUNDLE_OR_REPO... [--replicas N] [--port P] [--address RAY_ADDRESS]`` and
``modelver batch BUNDLE INPUT... --out FILE [--address RAY_ADDRESS] [--concurrency N]``.
Registering them imports argparse only; Ray is imported when one of them runs
(``pip install 'modelver[serve]'``).
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def add_load_arguments(p: argparse.ArgumentParser) -> None:
    """How every version is loaded (``modelver_export.runtime.load``): the same flags as ``modelver run``."""
    p.add_argument(
        "--engine", default="auto", help="ONNX: the inference engine: auto (default, as `modelver run` picks it: "
        "onnxruntime for FP32, the fastest at export for INT8), onnxruntime, openvino"
    )
    p.add_argument(
        "--precision", choices=("fp32", "bf16"), default="fp32",
        help="bf16: ONNX bundles on OpenVINO, .pt2 under torch.autocast, on CPUs with BF16 (default fp32)",
    )  # fmt: skip


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="BUNDLE_OR_REPO", help="bundle directories, Triton model repositories")
    p.add_argument("--replicas", type=_positive, default=1, help="replicas of the model deployment (default 1)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    p.add_argument("--address", default=None, help="an existing Ray cluster (default: start a local Ray instance)")
    p.add_argument("--max-models-per-replica", type=_positive, default=4, help="versions each replica keeps loaded")
    p.add_argument("--threads", type=_positive, default=None, help="intra-op threads per loaded version")
    p.add_argument("--cpus-per-replica", type=float, default=1.0, help="CPUs Ray reserves per replica (default 1)")
    add_load_arguments(p)
    p.add_argument("--trust", action="store_true", help="also serve TorchScript / .pt2 bundles (they run code)")
    p.add_argument(
        "--detach", action="store_true", help="deploy and exit, leaving the application running (with --address)"
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from modelver.errors import ModelverError

    from .serve import deploy

    if args.detach and not args.address:
        raise ModelverError("--detach leaves the application on a Ray cluster: give its --address too.")
    url, models = deploy(
        args.paths,
        replicas=args.replicas,
        port=args.port,
        host=args.host,
        address=args.address,
        trust_code=args.trust,
        max_models_per_replica=args.max_models_per_replica,
        threads=args.threads,
        engine=args.engine,
        precision=args.precision,
        cpus_per_replica=args.cpus_per_replica,
    )
    for model in models.values():
        print(f"{url}/v2/models/{model.name}", flush=True)
        for label, (name, version) in zip(model.labels, model.versions.items()):
            default = " (default)" if name == model.default else ""
            print(f"  version {label}: {version.meta.get('weights')}{default}", flush=True)
    print(f"{args.replicas} replica(s); Open Inference Protocol v2 at {url}/v2", flush=True)
    if args.detach:
        return 0
    print("Ctrl-C stops the service.", flush=True)
    import ray
    from ray import serve

    from .serve.app import APP_NAME

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # docker stop, kill: the same clean end as Ctrl-C
    try:
        while not stop.wait(60):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if args.address:
            serve.delete(APP_NAME)  # the cluster keeps running
        else:
            serve.shutdown()
            ray.shutdown()
    return 0


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="bundle directory or Triton model directory")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders; text files (a sentence a line)")
    p.add_argument("--out", required=True, help="output file: .jsonl (JSON lines) or .parquet")
    p.add_argument("--address", default=None, help="an existing Ray cluster (default: start a local Ray instance)")
    p.add_argument("--concurrency", type=_positive, default=1, help="Ray Data workers, each holding the model")
    p.add_argument("--batch-size", type=_positive, default=16, help="inputs per worker call (default 16)")
    p.add_argument("--topk", type=_positive, default=5, help="classes per row (classifiers; default 5)")
    p.add_argument("--version", default=None, help="Triton model directory: the version number (default highest)")
    p.add_argument("--threads", type=_positive, default=None, help="intra-op threads per worker")
    p.add_argument("--cpus-per-worker", type=float, default=1.0, help="CPUs Ray reserves per worker (default 1)")
    add_load_arguments(p)
    p.add_argument("--trust", action="store_true", help="also run TorchScript / .pt2 bundles (they run code)")
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import run_batch

    summary = run_batch(
        args.bundle,
        args.inputs,
        args.out,
        address=args.address,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        topk=args.topk,
        version=args.version,
        threads=args.threads,
        engine=args.engine,
        precision=args.precision,
        cpus_per_worker=args.cpus_per_worker,
        trust_code=args.trust,
    )
    skipped = f", {len(summary.skipped)} input(s) skipped" if summary.skipped else ""
    print(f"{summary.rows} row(s) of version {summary.version} in {summary.out} ({summary.seconds:.1f} s{skipped})")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve bundles over HTTP (Open Inference Protocol v2) with Ray Serve")
    add_serve_arguments(p)
    p = sub.add_parser("batch", help="run a bundle over many images or texts with Ray Data")
    add_batch_arguments(p)
