"""vit_b_16 equals torchvision's, entry by entry (same state_dict → same outputs, same preset)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from modelver import Weights
from modelver.models.vit import ViT_B_16_Weights, vit_b_16
from modelver.testing import synthetic_state_dict


@pytest.mark.parametrize("entry", ["IMAGENET1K_V1", "IMAGENET1K_SWAG_E2E_V1"])
def test_outputs_equal_torchvision_bit_for_bit(entry: str, tmp_path: Path) -> None:
    ours_entry = ViT_B_16_Weights[entry]
    theirs_entry = torchvision.models.ViT_B_16_Weights[entry]
    size = ours_entry.meta["min_size"][0]
    reference = torchvision.models.vit_b_16(image_size=size).eval()
    state = synthetic_state_dict(reference, seed=3)
    reference.load_state_dict(state)
    torch.save(state, tmp_path / "vit.pth")
    # the same entry, its file replaced by the synthetic one: meta (image size, classes) still applies
    ours = vit_b_16(weights=Weights(url=str(tmp_path / "vit.pth"), transforms=ours_entry.transforms, meta=ours_entry.meta))
    image = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    batch = ours_entry.transforms()(image).unsqueeze(0)
    assert torch.equal(batch, theirs_entry.transforms()(image).unsqueeze(0))
    with torch.inference_mode():
        assert torch.equal(ours.eval()(batch), reference(batch))


def test_meta_matches_torchvision() -> None:
    for ours in ViT_B_16_Weights:
        theirs = torchvision.models.ViT_B_16_Weights[ours.name]
        assert ours.url == theirs.url
        assert ours.meta["_metrics"] == theirs.meta["_metrics"]
        for key in ("num_params", "_ops", "_file_size", "recipe"):
            assert ours.meta[key] == theirs.meta[key], key
        assert tuple(ours.meta["min_size"]) == tuple(theirs.meta["min_size"])
