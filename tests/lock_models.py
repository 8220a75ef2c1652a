"""Builders for the lock-file tests, whose release is chosen by environment variables at import.

A real library moves ``DEFAULT`` between two versions; here two processes see two releases:

- ``LOCKTEST_DIR``: the folder holding ``v1.safetensors`` and ``v2.safetensors`` (see ``write_files``);
- ``LOCKTEST_RELEASE=2``: ``TinyNet_Weights.DEFAULT`` is ``V2`` (otherwise ``V1``), as after an upgrade;
- ``LOCKTEST_SCALE``: a constant of the model's forward, the "code change" that alters its outputs.

``lock_tinynet_hf`` has one entry at an unpinned ``hf://`` location (the default branch).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from modelver import Weights, WeightsEnum, handle_legacy_interface, register_model
from modelver._build import build_model
from modelver.transforms import ImageClassification

DIR = Path(os.environ.get("LOCKTEST_DIR", "/nonexistent-locktest-dir"))
RELEASE = int(os.environ.get("LOCKTEST_RELEASE", "1"))
SCALE = float(os.environ.get("LOCKTEST_SCALE", "1.0"))
HF_REPO = "locktest/tinynet"
CATEGORIES = ["cat", "dog", "bird"]


class TinyNet(nn.Module):
    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=4)
        self.fc = nn.Linear(4, num_classes)
        self.scale = SCALE  # read at construction: changing the module constant is a code change

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(x).relu().mean((2, 3)) * self.scale)


def state_dict(seed: int) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) for k, v in TinyNet().state_dict().items()}


def file_bytes(seed: int) -> bytes:
    from safetensors.torch import save

    return save(state_dict(seed))


def write_files(folder: Path) -> None:
    (folder / "v1.safetensors").write_bytes(file_bytes(1))
    (folder / "v2.safetensors").write_bytes(file_bytes(2))


def _meta(acc: float) -> dict[str, Any]:
    return {"task": "image_classification", "categories": CATEGORIES, "_metrics": {"Synthetic": {"acc@1": acc}}}


_TRANSFORMS = partial(ImageClassification, crop_size=32, resize_size=36)


class TinyNet_Weights(WeightsEnum):
    # No sha256: a third-party file whose digest the entry does not know; the lock records it.
    V1 = Weights(url=str(DIR / "v1.safetensors"), transforms=_TRANSFORMS, meta=_meta(50.0))
    V2 = Weights(url=str(DIR / "v2.safetensors"), transforms=_TRANSFORMS, meta=_meta(60.0))
    if RELEASE >= 2:
        DEFAULT = V2
    else:
        DEFAULT = V1


class TinyNetHF_Weights(WeightsEnum):
    MAIN = Weights(url=f"hf://{HF_REPO}/model.safetensors", transforms=_TRANSFORMS, meta=_meta(55.0))
    DEFAULT = MAIN


@register_model()
@handle_legacy_interface(weights=("pretrained", TinyNet_Weights.V1))
def lock_tinynet(*, weights: TinyNet_Weights | None = None, progress: bool = True, **kwargs: Any) -> TinyNet:
    weights = TinyNet_Weights.verify(weights)
    return build_model(partial(TinyNet, **kwargs), weights, progress)


@register_model()
def lock_tinynet_hf(*, weights: TinyNetHF_Weights | None = None, progress: bool = True) -> TinyNet:
    weights = TinyNetHF_Weights.verify(weights)
    return build_model(TinyNet, weights, progress)


@register_model()
def lock_tinynet_wide(*, weights: TinyNet_Weights | None = None, progress: bool = True) -> TinyNet:
    """Another builder on the same weights enum (as a detection model on a classifier's backbone weights)."""
    weights = TinyNet_Weights.verify(weights)
    return build_model(TinyNet, weights, progress)


BUILDERS = {"lock_tinynet": lock_tinynet, "lock_tinynet_hf": lock_tinynet_hf, "lock_tinynet_wide": lock_tinynet_wide}
