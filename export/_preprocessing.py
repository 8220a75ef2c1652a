"""The image preprocessing a bundle bakes in, as plain parameters.

Taken from the weights' own ``weights.transforms()`` (a :class:`modelver.transforms.ImageClassification`),
so the bundle resizes, crops and normalises exactly as the weights were evaluated. Pure Python:
the ONNX graph builder and the torch pipeline both read it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from modelver.errors import BundleError

__all__ = ["ImagePreprocessing"]

INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


@dataclasses.dataclass(frozen=True)
class ImagePreprocessing:
    """Resize the shorter side to ``resize_size``, centre-crop ``crop_size``, scale to [0, 1], normalise."""

    crop_size: int
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"
    antialias: bool = True

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise BundleError(
                f"Cannot export interpolation {self.interpolation!r}; supported: {', '.join(INTERPOLATIONS)}."
            )
        if len(self.mean) != 3 or len(self.std) != 3:
            raise BundleError(f"Expected 3 channel means and stds, got mean={self.mean} std={self.std}.")

    @classmethod
    def from_transforms(cls, transforms: Any, weights_label: str) -> ImagePreprocessing:
        """Read the parameters of a weights entry's preset (``weights.transforms()``)."""
        from modelver.transforms import ImageClassification

        if not isinstance(transforms, ImageClassification):
            raise BundleError(
                f"{weights_label}: the preprocessing {type(transforms).__name__} has no exporter; "
                "image classification bundles need modelver.transforms.ImageClassification."
            )
        return cls(
            crop_size=int(transforms.crop_size),
            resize_size=int(transforms.resize_size),
            mean=tuple(float(m) for m in transforms.mean),  # type: ignore[arg-type]
            std=tuple(float(s) for s in transforms.std),  # type: ignore[arg-type]
            interpolation=str(transforms.interpolation),
            antialias=bool(transforms.antialias),
        )

    def as_meta(self) -> dict[str, Any]:
        return {
            "input": "uint8 RGB (B, 3, H, W), any H and W",
            "resize_size": self.resize_size,
            "crop_size": self.crop_size,
            "interpolation": self.interpolation,
            "antialias": self.antialias,
            "mean": list(self.mean),
            "std": list(self.std),
            "steps": [
                (f"resize the shorter side to {self.resize_size} ({self.interpolation}"
                f"{', antialiased' if self.antialias and self.interpolation != 'nearest' else ''}), round to uint8"),
                f"centre crop {self.crop_size}x{self.crop_size}",
                "divide by 255, subtract mean, divide by std",
            ],
        }
