"""Run-time classes of the image tasks: classification (top-k categories) and object detection (boxes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Sequence

from modelver.errors import BundleError, ModelverError
from modelver.predict import check_resized

from .inputs import decode_image
from .task import RunOptions, TaskRuntime, top_k

__all__ = ["ImageClassificationRuntime", "ObjectDetectionRuntime", "draw_detections", "numbered"]


class ImageClassificationRuntime(TaskRuntime):
    task = "image_classification"

    def predict_image(
        self, image: Any, topk: int | None = None, *, score_threshold: float = 0.5
    ) -> list[tuple[str, float]]:
        """The top-k (default 5) ``(category, probability)`` of one image (a path, a PIL image, an (H, W, 3) array).

        ``score_threshold`` is for detection bundles (the same call works for both)."""
        categories = self.require_categories()
        pixels = decode_image(image)
        resize = (self.meta.get("preprocessing") or {}).get("resize_size")
        if resize:  # the graph resizes: refuse what it would blow up (a 20000x2 strip) before running it
            check_resized(pixels.shape[2], pixels.shape[1], resize)
        probs = next(iter(self.bundle.run(pixels[None]).values()))[0]
        return top_k(probs, categories, 5 if topk is None else topk)

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        lines = []
        for image in inputs:
            lines.append(f"{self.head()}, {image}:")
            lines += [f"  {prob:7.2%}  {label}" for label, prob in self.predict_image(image, options.topk)]
        return lines


class ObjectDetectionRuntime(TaskRuntime):
    task = "object_detection"
    options: ClassVar[frozenset[str]] = frozenset({"out", "threshold"})

    def detect(self, image: Any, score_threshold: float = 0.5) -> list[Any]:
        """Objects in one image scoring at least ``score_threshold``, best first, as ``modelver.predict.Detection``
        (label from the bundle's categories, score, box (x1, y1, x2, y2) in the image's pixels)."""
        from modelver.predict import decode_detections

        categories = self.require_categories()
        if not 0.0 <= score_threshold <= 1.0:
            raise BundleError(f"The score threshold must be between 0 and 1, got {score_threshold}.")
        outputs = self.bundle.run(decode_image(image)[None])
        count = int(outputs["num_detections"][0])
        found = {name: outputs[name][0, :count] for name in ("boxes", "scores", "labels")}
        return decode_detections(found, categories, score_threshold)

    def predict_image(self, image: Any, topk: int | None = None, *, score_threshold: float = 0.5) -> list[Any]:
        """:meth:`detect`, at most ``topk`` detections when given."""
        if topk is not None and topk < 1:
            raise BundleError(f"topk must be at least 1, got {topk}.")
        return self.detect(image, score_threshold)[:topk]

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        threshold = options.threshold
        if not 0.0 <= threshold <= 1.0:
            raise BundleError(f"--threshold must be between 0 and 1, got {threshold}.")
        lines = []
        for i, image in enumerate(inputs, 1):
            found = self.detect(image, threshold)
            lines.append(f"{self.head()}, {image}: {len(found)} object(s) with score >= {threshold}")
            lines += [f"  {detection}" for detection in found]
            if options.out is not None:
                drawn = draw_detections(image, found, numbered(options.out, i, len(inputs)))
                lines.append(f"  boxes drawn in {drawn}")
        return lines


def numbered(path: str, index: int, count: int) -> str:
    """``path`` for the ``index``-th of ``count`` outputs: ``out-2.png`` when there are several."""
    if count == 1:
        return path
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}-{index}.{suffix}" if dot else f"{path}-{index}"


def draw_detections(image: Any, detections: Sequence[Any], path: str | os.PathLike[str], width: int = 3) -> Path:
    """Save ``image`` (a path, PIL image or array) with each detection drawn: :func:`modelver.predict.draw_detections`."""
    from modelver.predict import draw_detections as draw

    try:
        return draw(decode_image(image), detections, path, width)
    except ModelverError as exc:
        raise BundleError(str(exc)) from None
