"""Serving: requests/s and p50/p99 latency of a bundle behind ``modelver serve`` (Ray Serve) at 1 and 2
replicas, against the in-process runtime loop, on the same machine in the same run.

The bundle is EfficientNet-Lite0's ONNX bundle (real weights). Two kinds of request:

- ``infer``: a V2 JSON tensor, the cat photo resized to 224x224 (1, 3, 224, 224) uint8, 150k numbers;
- ``predict``: the cat photo as JPEG bytes (300x451), answered with the top 5 labels.

In process, the same work is ``bundle.run(array)`` and ``bundle.predict_image(path)`` in a loop
(one caller). Served, ``--clients`` threads send requests back to back over HTTP for
``--requests`` requests per configuration, after a warm-up. Every configuration (in process,
1 replica, 2 replicas) uses ``--threads`` onnxruntime threads per loaded model, and the Ray
instance gets ``--cpus`` CPUs. On a machine with few cores the served figures include the
HTTP proxy, the ingress and JSON coding competing with the model for the same cores.

    .venv/bin/python benchmarks/bench_serve.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import save, table

MODEL = "efficientnet_lite0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summarise(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "requests_per_s": len(ordered) / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
    }


def in_process(work: Callable[[], Any], requests: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        work()
    latencies = []
    start = time.perf_counter()
    for _ in range(requests):
        began = time.perf_counter()
        work()
        latencies.append(time.perf_counter() - began)
    return summarise(latencies, time.perf_counter() - start)


def served(url: str, body: bytes, content_type: str, requests: int, clients: int, warmup: int) -> dict[str, float]:
    def send(_: int) -> float:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
        return time.perf_counter() - began

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(warmup * clients)))
        start = time.perf_counter()
        latencies = list(pool.map(send, range(requests)))
        seconds = time.perf_counter() - start
    return summarise(latencies, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per configuration (default 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients (default 4)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per loaded model (default 1)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance (default 2)")
    parser.add_argument(
        "--bundle", default=None, help="an exported ONNX bundle of efficientnet_lite0 (default: export)"
    )
    parser.add_argument("--quick", action="store_true", help="60 requests per configuration")
    args = parser.parse_args()
    requests = 60 if args.quick else args.requests
    warmup = 3

    import ray
    from modelver_export import export_model
    from modelver_export.runtime import decode_image, load
    from modelver_export.serve import deploy
    from ray import serve

    from modelver.predict import sample_image

    work = Path(tempfile.mkdtemp(prefix="bench-serve"))
    try:
        bundle_dir = Path(args.bundle) if args.bundle else None
        if bundle_dir is None:
            print(f"exporting {MODEL} (onnx)...", flush=True)
            (result,) = export_model(MODEL, formats="onnx", out=work / "lite0", check=False, progress=None)
            bundle_dir = result.path
        photo = sample_image("chelsea")
        jpeg_path = work / "cat.jpg"
        photo.save(jpeg_path, quality=95)
        jpeg = jpeg_path.read_bytes()
        pixels = decode_image(photo.resize((224, 224)))[None]
        tensor = {"name": "images", "shape": list(pixels.shape), "datatype": "UINT8", "data": pixels.ravel().tolist()}
        infer_body = json.dumps({"inputs": [tensor]}).encode()

        bundle = load(bundle_dir, threads=args.threads)
        results: dict[str, dict[str, Any]] = {"infer": {}, "predict": {}}
        results["infer"]["in process"] = in_process(lambda: bundle.run(pixels), requests, warmup)
        results["predict"]["in process"] = in_process(lambda: bundle.predict_image(jpeg_path), requests, warmup)
        print("in process: done", flush=True)

        temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
        ray.init(address="local", num_cpus=args.cpus, _temp_dir=temp, include_dashboard=False, log_to_driver=False)
        try:
            port = _free_port()
            for replicas in (1, 2):
                url, _ = deploy(
                    [bundle_dir], replicas=replicas, port=port, threads=args.threads, cpus_per_replica=args.cpus / 2
                )
                base = f"{url}/v2/models/{MODEL}"
                label = f"{replicas} replica{'s' if replicas > 1 else ''}"
                results["infer"][label] = served(
                    f"{base}/infer", infer_body, "application/json", requests, args.clients, warmup
                )
                results["predict"][label] = served(
                    f"{base}/predict", jpeg, "image/jpeg", requests, args.clients, warmup
                )
                print(f"{label}: done", flush=True)
        finally:
            serve.shutdown()
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = []
    for kind, configs in results.items():
        base_rate = configs["in process"]["requests_per_s"]
        for config, r in configs.items():
            ratio = r["requests_per_s"] / base_rate
            rows.append(
                [
                    kind,
                    config,
                    f"{r['requests_per_s']:.1f}",
                    f"{ratio:.2f}x",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                ]
            )
    print()
    print(
        f"{MODEL} ONNX, {args.threads} onnxruntime thread(s) per model, {args.clients} HTTP clients, {requests} requests each"
    )
    print(table(["request", "where", "requests/s", "x in process", "p50 ms", "p99 ms"], rows))
    save(
        "serve",
        {
            "model": MODEL,
            "device": "cpu",
            "threads": args.threads,
            "clients": args.clients,
            "ray_cpus": args.cpus,
            "requests": requests,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
