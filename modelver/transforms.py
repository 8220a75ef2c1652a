"""Preset transforms: the preprocessing a weights entry was evaluated with.

Pure PyTorch (no torchvision import, so listing and ``get_weight`` stay cheap), scriptable
with ``torch.jit.script``, and numerically torchvision's presets on tensor input: the same
resize-size rule, antialiased interpolation, rounding back to uint8, centre crop (padding
when the crop is larger) and normalisation. PIL images are converted to a uint8 tensor
first and then take the tensor path.
"""

from __future__ import annotations

import inspect
from typing import Any, List, Sequence

import torch
from torch import Tensor, nn

__all__ = ["ImageClassification", "ObjectDetection", "center_crop", "pil_to_tensor", "resize_shorter_side"]


@torch.jit.unused
def pil_to_tensor(img: Any) -> Tensor:
    """A PIL image (any mode) → uint8 tensor (C, H, W), RGB."""
    import numpy as np

    if not hasattr(img, "convert"):
        raise TypeError(f"Expected a PIL image or a torch.Tensor, got {type(img).__name__}.")
    array = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def _resized_size(height: int, width: int, size: int) -> List[int]:
    """Shorter side → ``size``, longer side scaled, truncated (torchvision's rule)."""
    if width <= height:
        return [int(size * height / width), size]
    return [size, int(size * width / height)]


def resize_shorter_side(img: Tensor, size: int, interpolation: str = "bilinear", antialias: bool = True) -> Tensor:
    """Resize (C, H, W) or (B, C, H, W) so the shorter side is ``size``; keeps the dtype."""
    height, width = img.shape[-2], img.shape[-1]
    out = _resized_size(height, width, size)
    if out[0] == height and out[1] == width:
        return img
    squeeze = img.dim() == 3
    x = img.unsqueeze(0) if squeeze else img
    dtype = x.dtype
    if not x.is_floating_point():
        x = x.to(torch.float32)
    use_antialias = antialias and interpolation in ("bilinear", "bicubic")
    if interpolation == "nearest":
        x = nn.functional.interpolate(x, size=out, mode="nearest")
    else:
        x = nn.functional.interpolate(x, size=out, mode=interpolation, align_corners=False, antialias=use_antialias)
    if dtype == torch.uint8:
        if interpolation == "bicubic":
            x = x.clamp(0, 255)
        x = torch.round(x).to(dtype)
    return x.squeeze(0) if squeeze else x


def center_crop(img: Tensor, size: int) -> Tensor:
    """Centre crop to ``size``×``size``, zero-padding first if the image is smaller."""
    height, width = img.shape[-2], img.shape[-1]
    if size > width or size > height:
        pad_w, pad_h = max(size - width, 0), max(size - height, 0)
        img = nn.functional.pad(img, [pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2])
        height, width = img.shape[-2], img.shape[-1]
    top = int(round((height - size) / 2.0))  # noqa: RUF046 - TorchScript's round returns a float
    left = int(round((width - size) / 2.0))  # noqa: RUF046
    return img[..., top : top + size, left : left + size]


def to_float_image(img: Tensor) -> Tensor:
    """uint8 [0, 255] → float32 [0, 1]; float input is passed through as float32."""
    if img.is_floating_point():
        return img.to(torch.float32)
    return img.to(torch.float32) / 255.0


class ImageClassification(nn.Module):
    """Resize the shorter side, centre-crop, scale to [0, 1], normalise.

    Accepts a PIL image, or a uint8 or float tensor of shape (C, H, W) or (B, C, H, W);
    returns float32 of shape (C, crop, crop) or (B, C, crop, crop).
    """

    def __init__(
        self,
        *,
        crop_size: int,
        resize_size: int = 256,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
        interpolation: str = "bilinear",
        antialias: bool = True,
    ) -> None:
        super().__init__()
        if interpolation not in ("bilinear", "bicubic", "nearest"):
            raise ValueError(f"interpolation must be 'bilinear', 'bicubic' or 'nearest', got {interpolation!r}.")
        self.crop_size = int(crop_size)
        self.resize_size = int(resize_size)
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.interpolation = interpolation
        self.antialias = bool(antialias)

    def forward(self, img: Tensor) -> Tensor:
        if not isinstance(img, Tensor):
            img = pil_to_tensor(img)
        if img.dim() not in (3, 4) or img.shape[-3] != 3:
            raise ValueError(f"Expected an RGB image of shape (3, H, W) or (B, 3, H, W), got {list(img.shape)}.")
        img = resize_shorter_side(img, self.resize_size, self.interpolation, self.antialias)
        img = center_crop(img, self.crop_size)
        img = to_float_image(img)
        mean = torch.tensor(self.mean, dtype=img.dtype, device=img.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=img.dtype, device=img.device).view(-1, 1, 1)
        return (img - mean) / std

    def extra_repr(self) -> str:
        return (
            f"crop_size={self.crop_size}, resize_size={self.resize_size}, mean={self.mean}, std={self.std}, "
            f"interpolation={self.interpolation!r}"
        )

    @classmethod
    def preprocessing_meta(cls, **params: Any) -> dict[str, Any]:
        """``meta["preprocessing"]`` of a weights entry whose transforms are ``partial(cls, **params)``:
        every parameter, defaults filled in (the one source: docs, ``info`` and export read it)."""
        bound = inspect.signature(cls.__init__).bind(None, **params)  # TypeError without crop_size
        bound.apply_defaults()
        values = dict(bound.arguments)
        values.pop("self")
        return {
            "resize_size": int(values["resize_size"]),
            "crop_size": int(values["crop_size"]),
            "interpolation": str(values["interpolation"]),
            "antialias": bool(values["antialias"]),
            "mean": [float(m) for m in values["mean"]],
            "std": [float(s) for s in values["std"]],
        }

    def describe(self) -> str:
        return (
            "Accepts PIL.Image, batched (B, C, H, W) and single (C, H, W) image torch.Tensor objects. "
            f"The images are resized to resize_size={self.resize_size} using interpolation={self.interpolation}, "
            f"followed by a central crop of crop_size={self.crop_size}. Finally the values are first rescaled to "
            f"[0.0, 1.0] and then normalized using mean={self.mean} and std={self.std}."
        )


class ObjectDetection(nn.Module):
    """Scale to [0, 1] float; detection models resize and normalise inside."""

    def forward(self, img: Tensor) -> Tensor:
        if not isinstance(img, Tensor):
            img = pil_to_tensor(img)
        return to_float_image(img)

    def describe(self) -> str:
        return (
            "Accepts PIL.Image, batched (B, C, H, W) and single (C, H, W) image torch.Tensor objects. "
            "The images are rescaled to [0.0, 1.0]."
        )
