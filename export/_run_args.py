"""The arguments of ``modelver run`` and ``python -m modelver_export.runtime`` (argparse only: registering
the command imports neither the runtime nor numpy)."""

from __future__ import annotations

import argparse

__all__ = ["add_run_arguments"]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle directory or model file (.onnx, .pt, .pt2)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, or texts for text and speech bundles")
    parser.add_argument("--topk", type=int, default=5, help="classes to show (classification bundles)")
    parser.add_argument("--threshold", type=float, default=0.5, help="lowest score shown (detection bundles; 0.5)")
    parser.add_argument(
        "--out",
        default=None,
        help="text-to-speech: the WAV file (default speech.wav); object detection: draw the boxes into this image",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed torch first (speech bundles sample)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads")
    parser.add_argument(
        "--spin", action="store_true", help="ONNX: let onnxruntime's threads spin between runs (lower latency)"
    )
    parser.add_argument(
        "--engine",
        default="auto",
        help="ONNX: the inference engine, onnxruntime or openvino (default auto: the faster installed one for this "
        "bundle, named in the output)",
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="bf16 (CPUs with BF16): ONNX bundles on OpenVINO, .pt2 bundles under torch.autocast",
    )
    parser.add_argument(
        "--trust",
        action="store_true",
        help="allow bundles that run code from the file (TorchScript, .pt2); only for bundles you trust",
    )
