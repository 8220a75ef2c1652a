"""Core commands: list, info, predict, demo."""

from __future__ import annotations

import argparse
import inspect
import sys
import textwrap
from typing import Any

from ..errors import ModelverError


def cmd_list(args: argparse.Namespace) -> int:
    from .. import list_models

    names = list_models(include=args.pattern)
    if not names:
        raise ModelverError(f"No model matches {args.pattern!r}. Run `modelver list` to see them all.")
    print("\n".join(names))
    return 0


def _short(value: Any, width: int = 100) -> str:
    if isinstance(value, (list, tuple)) and len(value) > 6:
        head = ", ".join(map(str, value[:4]))
        return f"{len(value)} items: {head}, ..."
    return textwrap.shorten(str(value), width=width, placeholder=" ...")


_LINEAGE_KEYS = ("supersedes", "superseded_by", "_deprecated")


def describe_weights(enum: Any, builder_name: str | None = None) -> list[str]:
    """Lines describing each entry of a weights enum for ``info``: DEFAULT marked, lineage,
    deprecation and fingerprint status first, then location and meta."""
    from .. import fingerprint

    lines = []
    default = enum.__members__.get("DEFAULT")
    for name, member in enum.__members__.items():
        if name != member.name:
            continue  # an alias: shown through the mark on its target
        mark = "  (DEFAULT)" if member is default else ""
        meta = member.meta
        lines.append(f"  {enum.__name__}.{name}{mark}")
        lines.append(f"    status: {'deprecated: ' + meta['_deprecated'] if meta.get('_deprecated') else 'current'}")
        if meta.get("supersedes"):
            lines.append(f"    supersedes: {meta['supersedes']}")
        if meta.get("superseded_by"):
            lines.append(f"    superseded by: {meta['superseded_by']}")
        if builder_name is not None:
            lines.append(f"    fingerprint: {fingerprint.status_of(builder_name, member)}")
        lines.append(f"    url: {member.url}")
        for mirror in member.mirrors:
            lines.append(f"    mirror: {mirror}")
        lines.append(f"    sha256: {member.sha256 or '(unknown; checked by file-name prefix if any)'}")
        for key, value in meta.items():
            if key not in _LINEAGE_KEYS:
                lines.append(f"    {key}: {_short(value)}")
    return lines


INFO_ENTRY_POINTS = "modelver.info"


def plugin_info(name: str) -> list[str]:
    """Lines about builder ``name`` from the installed plugins (``modelver.info`` entry points).

    Each entry point is a function ``(builder name) -> list of lines`` (the ``export`` package
    says which bundle formats the builder exports to). A plugin that is missing or fails is
    skipped with a warning on stderr: ``info`` itself never fails because of one.
    """
    from importlib import metadata

    from . import one_line

    lines: list[str] = []
    for entry in metadata.entry_points(group=INFO_ENTRY_POINTS):
        try:
            lines += [str(line) for line in entry.load()(name)]
        except Exception as exc:  # noqa: BLE001 - a plugin's failure must not break `info`
            print(f"modelver: warning: {entry.name} info unavailable ({one_line(exc)})", file=sys.stderr)
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    from .. import get_model_builder, get_model_weights

    builder = get_model_builder(args.name)
    doc = inspect.getdoc(builder) or ""
    print(f"{args.name}{inspect.signature(builder)}")
    print(f"  module: {inspect.unwrap(builder).__module__}")
    if doc:
        print(f"  {doc.splitlines()[0]}")
    try:
        enum = get_model_weights(builder)
    except ModelverError:
        enum = None
    if enum is None or len(enum) == 0:  # no enum, or torchvision's empty one: nothing released
        print("weights: none (this builder has no pre-trained weights)")
    else:
        print(f"weights: {enum.__name__}")
        print("\n".join(describe_weights(enum, args.name.strip().lower())))
    for line in plugin_info(args.name):
        print(line)
    return 0


def _predict_classification(args: argparse.Namespace, model: Any, weights: Any, image: Any) -> None:
    from ..predict import classify

    print(f"{args.name} ({weights!r}) on {args.image}:")
    for label, prob in classify(model, weights, image, args.topk):
        print(f"  {prob:7.2%}  {label}")


def _predict_detection(args: argparse.Namespace, model: Any, weights: Any, image: Any) -> None:
    from ..predict import detect, draw_detections

    found = detect(model, weights, image, args.threshold)
    print(f"{args.name} ({weights!r}) on {args.image}: {len(found)} object(s) with score >= {args.threshold}")
    for detection in found:
        print(f"  {detection}")
    if args.out is not None:
        print(f"boxes drawn in {draw_detections(image, found, args.out)}")


_PREDICTORS = {"image_classification": _predict_classification, "object_detection": _predict_detection}


def cmd_predict(args: argparse.Namespace) -> int:
    from .. import get_model_builder, get_model_weights
    from ..predict import load_image

    builder = get_model_builder(args.name)
    weights = get_model_weights(builder).verify(args.weights)
    task = weights.meta.get("task", "image_classification")
    predictor = _PREDICTORS.get(task)
    if predictor is None or "categories" not in weights.meta:
        raise ModelverError(
            f"`modelver predict` handles {' and '.join(_PREDICTORS)} models; {args.name} is a {task} model."
        )
    if args.out is not None and task != "object_detection":
        raise ModelverError(
            f"--out is for object_detection models; {args.name} is an {task} model (it prints its top-k)."
        )
    if not 0.0 <= args.threshold <= 1.0:
        raise ModelverError(f"--threshold must be between 0 and 1, got {args.threshold}.")
    image = load_image(args.image)
    model = builder(weights=weights, progress=not args.quiet).eval()
    predictor(args, model, weights, image)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import time

    from ..models.efficientnet_lite import EfficientNet_Lite0_Weights, efficientnet_lite0
    from ..predict import classify, sample_image

    weights = EfficientNet_Lite0_Weights.DEFAULT
    start = time.perf_counter()
    model = efficientnet_lite0(weights=weights).eval()
    print(f"efficientnet_lite0 with {weights!r} built in {time.perf_counter() - start:.2f} s "
          f"(weights from {weights.url})")
    for name in ("chelsea", "coffee"):
        print(f"\n{name} (scikit-image sample photo): top-5")
        for label, prob in classify(model, weights, sample_image(name), 5):
            print(f"  {prob:7.2%}  {label}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("list", help="list the registered models (fnmatch PATTERN, e.g. 'resnet*')")
    p.add_argument("pattern", nargs="?", default=None)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="a builder's signature and every weights entry with its meta")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("predict", help="classify an image, or detect objects in it, with a model's weights")
    p.add_argument("name")
    p.add_argument("image")
    p.add_argument("--weights", default="DEFAULT", help="weights entry name (default: DEFAULT)")
    p.add_argument("--topk", type=int, default=5, help="classification: how many classes to print")
    p.add_argument("--threshold", type=float, default=0.5, help="detection: minimum score (default 0.5)")
    p.add_argument("--out", default=None, help="detection: write the image with labelled boxes here")
    p.add_argument("--quiet", action="store_true", help="no download progress bar")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("demo", help="classify scikit-image's sample photos with EfficientNet-Lite0")
    p.set_defaults(func=cmd_demo)
