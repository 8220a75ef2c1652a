"""The ``export`` and ``run`` commands, plugged into ``modelver`` through the ``modelver.commands`` entry point.

``modelver export NAME [--weights W] [--format F,...] [--out DIR] [--opset N] [--no-check]
[--quantize int8 [--calibration DIR]]``,
``modelver export --list [--markdown]`` (``--markdown`` prints the README's table),
``modelver run BUNDLE INPUT...``; ``python -m modelver_export`` takes the same options as ``modelver export``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Sequence

from modelver.errors import ModelverError

from . import registry
from ._run_args import add_run_arguments
from .formats import DEFAULT_OPSET, MAX_OPSET


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="a registered builder (modelver list)")
    p.add_argument(
        "--weights",
        default="DEFAULT",
        help="weights entry name or a checkpoint fine-tuned from DEFAULT (.pth/.safetensors); several, "
        "comma-separated, become numbered versions of one Triton model (default: DEFAULT)",
    )
    p.add_argument(
        "--format",
        default="onnx",
        help=f"comma-separated, from {','.join(registry.format_names())}, or 'all' (default: onnx)",
    )
    p.add_argument("--out", default=None, help="output directory (default: bundles/NAME)")
    p.add_argument("--opset", type=int, default=None, help=f"ONNX opset, {DEFAULT_OPSET} to {MAX_OPSET} (default: {DEFAULT_OPSET})")
    p.add_argument(
        "--no-check",
        action="store_true",
        help="skip the parity check against eager (--quantize: keep a bundle that strays)",
    )
    p.add_argument(
        "--quantize",
        choices=("int8",),
        default=None,
        help="ONNX/Triton: INT8 (image classifiers: static QDQ; text encoders: int8 weights, activations "
        "quantized at run time), checked against FP32",
    )
    p.add_argument(
        "--calibration",
        default=None,
        metavar="DIR",
        help="with --quantize int8 (image models): images to calibrate on, besides the built-in photos",
    )
    p.add_argument("--list", action="store_true", help="show which formats each builder supports, and exit")
    p.add_argument("--markdown", action="store_true", help="with --list: as the README's Markdown table")
    p.set_defaults(func=cmd_export)


def _support(pattern: str | None) -> list[tuple[str, str | None, dict[str, str | None]]]:
    from modelver import list_models

    from .support import support_table

    names = list_models(include=pattern)
    if not names:
        raise ModelverError(f"No model matches {pattern!r}. Run `modelver list` to see them all.")
    return support_table(names)


def _reasons(table: list[tuple[str, str | None, dict[str, str | None]]]) -> list[tuple[str, list[str], str]]:
    """(builder, formats, reason) for every format a builder does not export to, formats sharing a reason merged."""
    out = []
    for name, _task, support in table:
        grouped: dict[str, list[str]] = {}
        for fmt, reason in support.items():
            if reason is not None:
                grouped.setdefault(reason, []).append(fmt)
        out += [(name, formats, reason) for reason, formats in grouped.items()]
    return out


def support_lines(pattern: str | None = None) -> list[str]:
    """``modelver export --list``: a plain table, then why each "no"."""
    table = _support(pattern)
    formats = registry.format_names()
    header = ("builder", "task", *formats)
    rows = [header]
    for name, task, support in table:
        rows.append((name, task or "-", *("yes" if support[f] is None else "no" for f in formats)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    reasons = _reasons(table)
    if reasons:
        lines.append("")
        lines += [f"{name} ({', '.join(formats)}): {reason}" for name, formats, reason in reasons]
    return lines


def support_markdown(pattern: str | None = None) -> list[str]:
    """``modelver export --list --markdown``: the README's table and its notes, Markdown."""
    table = _support(pattern)
    formats = registry.format_names()
    lines = [
        "| builder | task | " + " | ".join(formats) + " |",
        "|---|---|" + "---|" * len(formats),
    ]
    for name, task, support in table:
        cells = ["yes" if support[f] is None else "no" for f in formats]
        lines.append(f"| `{name}` | {task or '-'} | " + " | ".join(cells) + " |")
    reasons = _reasons(table)
    if reasons:
        lines.append("")
        lines += [f"- `{name}`, {', '.join(formats)}: {reason}." for name, formats, reason in reasons]
    return lines


def cmd_export(args: argparse.Namespace) -> int:
    if args.list or args.markdown:
        print("\n".join((support_markdown if args.markdown else support_lines)(args.name)))
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
        quantize=args.quantize,
        calibration=args.calibration,
        check=not args.no_check,
        progress=lambda line: print(line, flush=True),
    )
    print(f"\n{args.name}: {len(results)} bundle(s) in {time.perf_counter() - start:.1f} s")
    print(summary_table(results))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .runtime.cli import run_from_args

    print("\n".join(run_from_args(args)))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export a model with its preprocessing to TorchScript / ONNX / .pt2 / Triton")
    add_export_arguments(p)

    p = sub.add_parser("run", help="run an exported bundle on images or texts (modelver_export.runtime)")
    add_run_arguments(p)
    p.set_defaults(func=cmd_run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m modelver_export``: the ``modelver export`` command on its own."""
    from modelver.cli import run_command

    parser = argparse.ArgumentParser(prog="python -m modelver_export", description="Export a registered model as a bundle.")
    add_export_arguments(parser)
    return run_command(parser.prog, parser.parse_args(argv))
