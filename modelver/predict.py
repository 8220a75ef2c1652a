"""Run a registered model on real input the way its weights were evaluated."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import ModelverError, first_line

__all__ = ["Detection", "classify", "decode_detections", "detect", "draw_detections", "load_image", "sample_image"]

SAMPLES = ("chelsea", "coffee", "rocket", "astronaut")


def load_image(path: str | Path, error: type[ModelverError] = ModelverError) -> Any:
    """An RGB PIL image from a file, with a clear error for a missing, unreadable or too large one.

    The size is read from the file's header before anything is decoded: an image of more
    than ``MODELVER_MAX_IMAGE_PIXELS`` pixels (a decompression bomb) is refused unread.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a directory, not an image file: name an image file in it.")
    if not path.is_file():
        raise error(f"Image file {path} does not exist.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked here
            img = Image.open(path)
        with img:
            check_pixels(img.size, f"{path} is")
            return img.convert("RGB")
    except Image.DecompressionBombError as exc:  # past Pillow's own limit, before ours could look
        raise error(f"{path} is refused as a decompression bomb ({first_line(exc)}).") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise error(f"{path} is not an image PIL can read ({first_line(exc)}).") from None


def check_pixels(size: Sequence[int], what: str) -> None:
    """Refuse a (width, height) over ``MODELVER_MAX_IMAGE_PIXELS`` in one line naming both; ``what`` starts it."""
    from .store._settings import MAX_PIXELS_VAR, max_image_pixels

    width, height = int(size[0]), int(size[1])
    limit = max_image_pixels()
    if width * height > limit:
        raise ModelverError(
            f"{what} {width}x{height} pixels ({width * height:,}), over the limit of {limit:,} "
            f"({MAX_PIXELS_VAR}): resize or crop the image first, or raise the limit."
        )


def check_resized(width: int, height: int, shorter: int) -> None:
    """Refuse an image that resizing its shorter side to ``shorter`` would make too many pixels
    (a 20000x2 strip at 256 is 2560000x256): before anything is allocated. Torch-free: the
    bundle runtime checks its inputs with it too."""
    # torchvision's rule (modelver.transforms._resized_size): the longer side scaled, truncated
    if width <= height:
        out_width, out_height = shorter, int(shorter * height / width)
    else:
        out_width, out_height = int(shorter * width / height), shorter
    check_pixels((out_width, out_height), f"The image ({width}x{height}) would be resized (shorter side {shorter}) to")


def check_resize(image: Any, transforms: Any) -> None:
    """:func:`check_resized` for a PIL image or (..., H, W) tensor and a preset with ``resize_size``."""
    resize = getattr(transforms, "resize_size", None)
    if resize is None:
        return
    width, height = image.size if hasattr(image, "size") and not callable(image.size) else image.shape[-1:-3:-1]
    check_resized(int(width), int(height), int(resize))


def sample_image(name: str) -> Any:
    """One of scikit-image's bundled photos (``chelsea``, ``coffee``, ...) as a PIL image."""
    if name not in SAMPLES:
        raise ModelverError(f"Unknown sample {name!r}; choose one of {', '.join(SAMPLES)}.")
    try:
        from skimage import data
    except ImportError:
        raise ModelverError("The sample photos come from scikit-image: pip install scikit-image") from None
    from PIL import Image

    return Image.fromarray(getattr(data, name)())


def classify(model: Any, weights: Any, image: Any, topk: int = 5) -> list[tuple[str, float]]:
    """Top-k (category, probability) for one image, with the weights' own preprocessing."""
    import torch

    categories = weights.meta["categories"]
    if topk < 1:
        raise ModelverError(f"--topk must be at least 1, got {topk}.")
    transforms = weights.transforms()
    check_resize(image, transforms)
    batch = transforms(image).unsqueeze(0)
    with torch.inference_mode():
        probs = model(batch).softmax(-1)[0]
    top = probs.topk(min(topk, len(categories)))
    return [(categories[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist())]


@dataclasses.dataclass(frozen=True)
class Detection:
    """One detected object: its category name, score in [0, 1] and box (x1, y1, x2, y2) in pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def __str__(self) -> str:
        x1, y1, x2, y2 = (round(v) for v in self.box)
        return f"{self.score:7.2%}  {self.label}  [{x1}, {y1}, {x2}, {y2}]"


def decode_detections(
    output: Mapping[str, Any], categories: Sequence[str], score_threshold: float = 0.5
) -> list[Detection]:
    """A detection model's output for one image (``boxes``, ``labels``, ``scores``) → named detections.

    Keeps those scoring at least ``score_threshold``, best first; label indices are looked
    up in ``categories`` (the weights' ``meta["categories"]``).
    """
    if not 0.0 <= score_threshold <= 1.0:
        raise ModelverError(f"The score threshold must be between 0 and 1, got {score_threshold}.")
    scores = output["scores"].tolist()
    labels = output["labels"].tolist()
    boxes = output["boxes"].tolist()
    found = []
    for score, label, box in zip(scores, labels, boxes):
        if score < score_threshold:
            continue
        if not 0 <= label < len(categories):
            raise ModelverError(
                f"The model predicted class {label}, but its weights name {len(categories)} categories."
            )
        found.append(Detection(categories[label], float(score), (box[0], box[1], box[2], box[3])))
    return sorted(found, key=lambda d: d.score, reverse=True)


def detect(model: Any, weights: Any, image: Any, score_threshold: float = 0.5) -> list[Detection]:
    """Detections in one image with the weights' own preprocessing (``model`` in eval mode)."""
    import torch

    tensor = weights.transforms()(image)
    with torch.inference_mode():
        output = model([tensor])[0]
    return decode_detections(output, weights.meta["categories"], score_threshold)


def _as_rgb_image(image: Any) -> Any:
    """A PIL image, a (3, H, W) tensor or array (uint8, or float in [0, 1]) or an (H, W, 3) uint8 array → PIL RGB."""
    import numpy as np
    from PIL import Image

    if hasattr(image, "convert"):
        return image.convert("RGB")
    array = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image)
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[2] != 3:
        array = array.transpose(1, 2, 0)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ModelverError(f"Expected an RGB image, (3, H, W) or (H, W, 3), got shape {tuple(array.shape)}.")
    return Image.fromarray(np.ascontiguousarray(array))


def draw_detections(image: Any, detections: Sequence[Detection], path: str | Path, width: int = 3) -> Path:
    """Save ``image`` with each detection's box and ``label score`` drawn on it, in red (Pillow; no torch).

    ``image``: a PIL image, a (3, H, W) tensor or array (uint8, or float in [0, 1]) or an
    (H, W, 3) uint8 array. ``modelver predict --out`` and ``modelver run --out`` both draw with it.
    """
    from PIL import ImageDraw

    canvas = _as_rgb_image(image)
    draw = ImageDraw.Draw(canvas)
    for found in detections:
        x1, y1, x2, y2 = found.box
        draw.rectangle((x1, y1, x2, y2), outline=(255, 0, 0), width=width)
        text = f"{found.label} {found.score:.0%}"
        draw.rectangle(draw.textbbox((x1, y1), text), fill=(255, 0, 0))
        draw.text((x1, y1), text, fill=(255, 255, 255))
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(path)
    except (OSError, ValueError) as exc:
        raise ModelverError(f"Cannot write {path}: {first_line(exc)}") from None
    return path
