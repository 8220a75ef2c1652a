"""Run a registered model on real input the way its weights were evaluated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ModelverError

__all__ = ["load_image", "classify", "sample_image"]

SAMPLES = ("chelsea", "coffee", "rocket", "astronaut")


def load_image(path: str | Path) -> Any:
    """An RGB PIL image from a file, with a clear error for a missing or unreadable one."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ModelverError(f"Image file {path} does not exist.")
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ModelverError(f"{path} is not an image PIL can read ({exc}).") from None


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
    batch = weights.transforms()(image).unsqueeze(0)
    with torch.inference_mode():
        probs = model(batch).softmax(-1)[0]
    top = probs.topk(min(topk, len(categories)))
    return [(categories[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist())]
