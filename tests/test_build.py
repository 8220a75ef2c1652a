"""Building on the meta device and assigning the loaded tensors equals build-then-load, bit for bit."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn

from modelver import Weights, build_model
from modelver.models.efficientnet_lite import EfficientNetLite
from modelver.testing import synthetic_state_dict
from modelver.transforms import ImageClassification


def _checkpoint(tmp_path: Path, model: nn.Module, dtype: torch.dtype = torch.float32) -> Weights:
    sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in synthetic_state_dict(model).items()}
    path = tmp_path / "ckpt.pth"
    torch.save(sd, path)
    return Weights(url=str(path), transforms=ImageClassification, meta={})


def test_meta_init_equals_normal_build_and_load(tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path, EfficientNetLite())
    fast = build_model(EfficientNetLite, weights).eval()
    slow = EfficientNetLite()
    slow.load_state_dict(weights.get_state_dict())
    slow.eval()
    assert not any(t.is_meta for t in fast.state_dict().values())
    assert all(torch.equal(a, b) for a, b in zip(fast.state_dict().values(), slow.state_dict().values()))
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        out = fast(x)
        assert torch.isfinite(out).all()
        assert torch.equal(out, slow(x))


def test_meta_init_casts_to_the_declared_dtype(tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path, EfficientNetLite(), dtype=torch.float16)
    model = build_model(EfficientNetLite, weights)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_loaded_model_trains(tmp_path: Path) -> None:
    weights = _checkpoint(tmp_path, EfficientNetLite(num_classes=3), dtype=torch.float32)
    model = build_model(partial(EfficientNetLite, num_classes=3), weights).train()
    assert all(p.requires_grad for p in model.parameters())
    loss = model(torch.randn(2, 3, 64, 64)).sum()
    loss.backward()
    before = model.classifier.weight.detach().clone()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(before, model.classifier.weight)


def test_missing_keys_fail_strictly(tmp_path: Path) -> None:
    path = tmp_path / "partial.pth"
    torch.save({"classifier.weight": torch.zeros(1000, 1280)}, path)
    weights = Weights(url=str(path), transforms=ImageClassification, meta={})
    with pytest.raises(RuntimeError, match="Missing key"):
        build_model(EfficientNetLite, weights)
