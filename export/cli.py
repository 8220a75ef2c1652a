"""The ``export`` and ``run`` commands, plugged into ``modelver`` through the ``modelver.commands`` entry point.

``modelver export NAME [--weights W] [--format F,...] [--out DIR] [--opset N] [--no-check]``,
``modelver export --list``, ``modelver run BUNDLE IMAGE``; ``python -m export`` takes the
same options as ``modelver export``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Sequence

from modelver.errors import ModelverError

from ._bundle import FORMATS


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="a registered builder (modelver list)")
    p.add_argument("--weights", default="DEFAULT", help="weights entry name (default: DEFAULT)")
    p.add_argument(
        "--format",
        default="onnx",
        help=f"comma-separated, from {','.join(FORMATS)}, or 'all' (default: onnx)",
    )
    p.add_argument("--out", default=None, help="output directory (default: bundles/NAME)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset, 18 to 23 (default: 18)")
    p.add_argument("--no-check", action="store_true", help="skip the parity check against eager")
    p.add_argument("--list", action="store_true", help="show which formats each builder supports, and exit")
    p.set_defaults(func=cmd_export)


def support_lines(pattern: str | None = None) -> list[str]:
    from modelver import list_models

    from .tasks import support_table

    names = list_models(include=pattern)
    if not names:
        raise ModelverError(f"No model matches {pattern!r}. Run `modelver list` to see them all.")
    table = support_table(names)
    header = ("builder", "task", *FORMATS)
    rows = [header]
    reasons: dict[str, str] = {}
    for name, task, support in table:
        rows.append((name, task or "-", *("yes" if support[f] is None else "no" for f in FORMATS)))
        for reason in support.values():
            if reason is not None:
                reasons.setdefault(name, reason)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    if reasons:
        lines.append("")
        lines += [f"{name}: {reason}" for name, reason in reasons.items()]
    return lines


def cmd_export(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(support_lines(args.name)))
        return 0
    if not args.name:
        raise ModelverError("Name the builder to export, e.g. `modelver export efficientnet_lite0 --format onnx`.")
    from ._exporter import export_model, summary_table

    start = time.perf_counter()
    results = export_model(
        args.name,
        weights=args.weights,
        formats=args.format,
        out=args.out,
        opset=args.opset,
        check=not args.no_check,
        progress=lambda line: print(line, flush=True),
    )
    print(f"\n{args.name}: {len(results)} bundle(s) in {time.perf_counter() - start:.1f} s")
    print(summary_table(results))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .runtime import format_prediction, load

    bundle = load(args.bundle, threads=args.threads)
    print(format_prediction(bundle, args.image, bundle.predict_image(args.image, args.topk)))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export a model with its preprocessing to TorchScript / ONNX / .pt2 / Triton")
    add_export_arguments(p)

    p = sub.add_parser("run", help="classify an image with an exported bundle (export.runtime)")
    p.add_argument("bundle", help="bundle directory or model file (.onnx, .pt, .pt2)")
    p.add_argument("image")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="intra-op threads")
    p.set_defaults(func=cmd_run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m export``: the ``modelver export`` command on its own."""
    from modelver.cli import one_line

    parser = argparse.ArgumentParser(prog="python -m export", description="Export a registered model as a bundle.")
    add_export_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ModelverError, TypeError, ValueError, OSError, RuntimeError) as exc:
        if os.environ.get("MODELVER_DEBUG"):
            raise
        print(f"{parser.prog}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
