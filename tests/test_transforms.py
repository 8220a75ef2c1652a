"""Presets equal torchvision's on tensor input (same resize rule, rounding, crop, normalisation)."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import _presets as tv

from modelver.transforms import ImageClassification, ObjectDetection


@pytest.mark.parametrize("shape", [(3, 300, 451), (2, 3, 500, 377), (3, 100, 120), (3, 224, 224), (3, 256, 300)])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("sizes", [(224, 256), (224, 232), (384, 384)])
def test_image_classification_equals_torchvision(shape: tuple, dtype: torch.dtype, sizes: tuple) -> None:  # type: ignore[type-arg]
    crop, resize = sizes
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
    if dtype.is_floating_point:
        x = x.to(dtype) / 255
    ours = ImageClassification(crop_size=crop, resize_size=resize)(x)
    theirs = tv.ImageClassification(crop_size=crop, resize_size=resize)(x)
    assert torch.equal(ours, theirs)


def test_bicubic_equals_torchvision() -> None:
    from torchvision.transforms import InterpolationMode

    x = torch.randint(0, 256, (3, 333, 250), dtype=torch.uint8)
    ours = ImageClassification(crop_size=224, resize_size=256, interpolation="bicubic")(x)
    theirs = tv.ImageClassification(crop_size=224, resize_size=256, interpolation=InterpolationMode.BICUBIC)(x)
    assert torch.equal(ours, theirs)


def test_object_detection_equals_torchvision() -> None:
    x = torch.randint(0, 256, (3, 50, 70), dtype=torch.uint8)
    assert torch.equal(ObjectDetection()(x), tv.ObjectDetection()(x))
    assert torch.equal(torch.jit.script(ObjectDetection())(x), tv.ObjectDetection()(x))


def test_unknown_interpolation_is_refused() -> None:
    with pytest.raises(ValueError, match="interpolation must be"):
        ImageClassification(crop_size=224, interpolation="lanczos")
