"""Category lists shared by weights entries (ImageNet-1K, COCO), read from package data.

The lists are torchvision's (a test checks they stay equal), kept as data here so that
reading a weights entry's meta does not import torchvision.
"""

from __future__ import annotations

from pathlib import Path

_DATA = Path(__file__).with_name("data")


def _read(name: str) -> list[str]:
    return (_DATA / name).read_text(encoding="utf-8").splitlines()


IMAGENET_CATEGORIES: list[str] = _read("imagenet1k_categories.txt")
COCO_CATEGORIES: list[str] = _read("coco_categories.txt")
