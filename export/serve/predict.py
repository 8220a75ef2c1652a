"""``POST /v2/models/{name}[/versions/{v}]/predict``: an image file or texts in, labelled JSON out.

For people and curl: ``curl --data-binary @cat.jpg URL/predict`` for image bundles,
``curl -d '{"texts": ["A sentence."]}' URL/predict`` for text bundles. The work is done by
the bundle's own methods (``predict_image``, ``embed``, ``classify_text``), so a served
answer is the one ``modelver run`` prints.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from modelver.errors import BundleError, first_line

from ._catalog import Version
from .protocol import ProtocolError

__all__ = ["IMAGE_TASKS", "TEXT_TASKS", "parse_predict", "predict", "top_k"]

IMAGE_TASKS = ("image_classification", "object_detection")
TEXT_TASKS = ("sentence_embedding", "text_classification")
MAX_TEXTS = 256


def top_k(value: str | None, default: int = 5) -> int:
    if value is None:
        return default
    try:
        k = int(value)
    except ValueError:
        k = 0
    if k < 1:
        raise ProtocolError(400, f"topk must be a positive integer, got {value!r}.")
    return k


def decode_image_bytes(data: bytes) -> np.ndarray:
    """Encoded image bytes (JPEG, PNG, ...) → (H, W, 3) uint8 RGB; 400 when Pillow cannot read them."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ProtocolError(400, "The request body is empty; send an image file (curl --data-binary @photo.jpg).")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        line = first_line(exc).split(" <_io.")[0]  # "cannot identify image file <_io.BytesIO object at 0x...>"
        raise ProtocolError(400, f"The request body is not an image Pillow can read ({line}).") from None


def _texts(data: bytes, content_type: str) -> list[str]:
    if "json" in content_type or data.lstrip().startswith((b"{", b"[")):
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProtocolError(400, f"The request body is not JSON ({exc}).") from None
        texts = body.get("texts") if isinstance(body, dict) else body
    else:
        try:
            texts = [line for line in data.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise ProtocolError(400, "The request body is not UTF-8 text.") from None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ProtocolError(400, 'Send {"texts": ["a sentence", ...]} (non-empty strings), or one text a line.')
    if len(texts) > MAX_TEXTS:
        raise ProtocolError(413, f"{len(texts)} texts in one request; send at most {MAX_TEXTS}.")
    return texts


def parse_predict(data: bytes, content_type: str, version: Version) -> Any:
    """The request body as what the bundle's method takes: an image array, or a list of texts."""
    task = version.meta.get("task")
    if task in IMAGE_TASKS:
        return decode_image_bytes(data)
    if task in TEXT_TASKS:
        return _texts(data, content_type)
    raise ProtocolError(
        400, f"/predict has no form for {task!r} models; send tensors to /v2/models/{version.model}/infer."
    )


def predict(bundle: Any, payload: Any, topk: int) -> dict[str, Any]:
    """Run ``payload`` through the bundle's own method for its task; JSON-ready."""
    task = bundle.meta.get("task")
    if task == "image_classification":
        return {"predictions": [{"label": c, "probability": p} for c, p in bundle.predict_image(payload, topk)]}
    if task == "object_detection":
        found = bundle.detect(payload)
        return {"detections": [{"label": d.label, "score": d.score, "box": list(d.box)} for d in found[:topk]]}
    if task == "sentence_embedding":
        return {"embeddings": bundle.embed(payload).tolist()}
    if task == "text_classification":
        rows = bundle.classify_text(payload, topk)
        return {"predictions": [[{"label": c, "probability": p} for c, p in row] for row in rows]}
    raise BundleError(f"/predict has no form for {task!r} models; use /infer.")
