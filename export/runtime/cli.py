"""Bundles on the command line: ``modelver run BUNDLE INPUT...`` and ``python -m modelver_export.runtime``.

Argument parsing and the one entry point both commands share; what a task prints is its
run-time class's :meth:`~modelver_export.runtime.task.TaskRuntime.describe`. No torch.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from modelver.errors import BundleError, first_line

from .. import registry
from .._run_args import add_run_arguments
from .bundle import Bundle, load
from .task import RunOptions

__all__ = ["describe_run", "main", "run_from_args"]


def describe_run(
    bundle: Bundle,
    inputs: Sequence[str],
    *,
    topk: int = 5,
    out: str | None = None,
    seed: int | None = None,
    threshold: float = 0.5,
) -> list[str]:
    """Run a bundle on command-line inputs (image paths or texts, by its task) and say what came out.

    ``out``: the WAV file of a text-to-speech bundle (default ``speech.wav``), or where an
    object detection bundle draws its boxes (default: nowhere). ``threshold``: the lowest
    detection score shown.
    """
    if not inputs:
        raise BundleError("Give the bundle something to run on: image files, or texts for text and speech bundles.")
    runtime = bundle.task_runtime
    if out is not None and "out" not in runtime.options:
        users = [t.name for t in registry.tasks() if "out" in t.runtime_class().options]
        raise BundleError(f"--out is for {' and '.join(users)} bundles; this one is {bundle.meta.get('task')!r}.")
    return runtime.describe(list(inputs), RunOptions(topk=topk, out=out, seed=seed, threshold=threshold))


def run_from_args(args: argparse.Namespace) -> list[str]:
    """What ``modelver run`` prints for parsed arguments."""
    bundle = load(
        args.bundle, threads=args.threads, spin=args.spin, engine=args.engine, trust_code=args.trust,
        precision=args.precision,
    )  # fmt: skip
    return describe_run(bundle, args.inputs, topk=args.topk, out=args.out, seed=args.seed, threshold=args.threshold)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m modelver_export.runtime BUNDLE INPUT...``: ``modelver run`` without modelver's CLI."""
    parser = argparse.ArgumentParser(
        prog="python -m modelver_export.runtime",
        description="Run a modelver bundle on images or texts (no torch needed for ONNX).",
    )
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        print("\n".join(run_from_args(args)))
    except BundleError as exc:
        print(f"{parser.prog}: error: {first_line(exc)}", file=sys.stderr)
        return 1
    return 0
