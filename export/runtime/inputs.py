"""Inputs of a bundle: the embedded specs, one array checked against its spec, an image decoded to uint8 (no torch)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from modelver.errors import BundleError
from modelver.predict import check_pixels, load_image

__all__ = ["check_input", "decode_image", "validate_specs"]


def validate_specs(value: Any, key: str, where: Path) -> list[dict[str, Any]]:
    """The embedded input/output specs, validated: name, a numpy dtype, a shape of ints and axis names."""
    bad = BundleError(f"{where}: the embedded meta has no valid {key} specs; re-export the bundle.")
    if not isinstance(value, list) or not value:
        raise bad
    for spec in value:
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("name"), str)
            or not isinstance(spec.get("shape"), list)
        ):
            raise bad
        if not all(isinstance(d, (int, str)) for d in spec["shape"]) or not isinstance(spec.get("dtype"), str):
            raise bad
        try:
            np.dtype(spec.get("dtype"))
        except TypeError:
            raise bad from None
    return value


def check_input(spec: Mapping[str, Any], value: Any, owner: str) -> np.ndarray:
    """``value`` as the array ``spec`` describes (dtype, rank, fixed sizes, limits, value range), or one BundleError."""
    name, dtype, shape = spec["name"], np.dtype(spec["dtype"]), spec["shape"]
    layout = "(" + ", ".join(str(d) for d in shape) + ")"
    what = f"Input {name!r} of {owner}"
    if not isinstance(value, np.ndarray):
        if not hasattr(value, "__array__"):
            raise BundleError(f"{what} must be a numpy array, got {type(value).__name__}.")
        value = np.asarray(value)
    if value.dtype != dtype:
        hint = " (pixel values 0-255; the bundle normalises them itself)" if dtype == np.uint8 else ""
        raise BundleError(f"{what} must be {dtype}{hint}, got {value.dtype}; convert with .astype(np.{dtype}).")
    if value.ndim != len(shape):
        raise BundleError(f"{what} must have {len(shape)} dimensions {layout}, got shape {tuple(value.shape)}.")
    for axis, (want, got) in enumerate(zip(shape, value.shape)):
        if isinstance(want, int) and want != got:
            raise BundleError(f"{what} must have {want} at axis {axis} of {layout}, got shape {tuple(value.shape)}.")
        if got == 0:
            raise BundleError(f"{what} has an empty axis {axis} (shape {tuple(value.shape)}).")
    for axis_name, limit in (spec.get("max") or {}).items():
        if axis_name in shape and value.shape[shape.index(axis_name)] > limit:
            size = value.shape[shape.index(axis_name)]
            raise BundleError(f"{what} has {size} along {axis_name!r}; this model takes at most {limit}.")
    bounds = spec.get("range")
    if bounds is not None and value.size:
        low, high = value.min(), value.max()
        if low < bounds[0] or high > bounds[1]:
            raise BundleError(f"{what} must hold values from {bounds[0]} to {bounds[1]}, got {low} to {high}.")
    return value


def decode_image(image: Any) -> np.ndarray:
    """An image file, PIL image or (H, W, 3) array → uint8 (3, H, W), RGB."""
    if isinstance(image, np.ndarray):
        array = image
    else:
        if isinstance(image, (str, os.PathLike)):
            with load_image(image, error=BundleError) as img:  # refused from the header if too large
                array = np.asarray(img)
        elif hasattr(image, "convert"):
            array = np.asarray(image.convert("RGB"))
        else:
            raise BundleError(f"Expected an image path, a PIL image or an (H, W, 3) array, got {type(image).__name__}.")
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise BundleError(f"Expected an RGB uint8 image of shape (H, W, 3), got {array.dtype} {tuple(array.shape)}.")
    check_pixels((array.shape[1], array.shape[0]), "The image is")
    return np.ascontiguousarray(array.transpose(2, 0, 1))
