"""resnet50 and vit_b_16 bundles in every format (synthetic weights: their real files are not here).

Seeded synthetic weights spread the probabilities thinly (the largest is about 0.01), so an
absolute tolerance alone would say little: the tests also hold every bundle to 1e-3 of the
largest probability on inputs that need no resampling, and to eager's top-1.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from export_helpers import parity_cases
from modelver_export import export_model
from modelver_export.registry import format_names
from modelver_export.runtime import load

from modelver import Weights, get_model, get_model_builder, get_model_weights
from modelver.testing import synthetic_weights

FORMATS = format_names()
PARITY = parity_cases({"resnet50": FORMATS, "vit_b_16": FORMATS})
REL = 1e-3  # of the largest probability


@dataclasses.dataclass
class Exported:
    model: torch.nn.Module
    weights: Weights
    bundles: dict[str, Path]

    def eager(self, images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.model(self.weights.transforms()(torch.from_numpy(images))).softmax(-1).numpy()


class _Exports(dict):  # type: ignore[type-arg]
    """builder → its DEFAULT weights exported to every format, on first use (vit_b_16's take a minute)."""

    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out

    def __missing__(self, name: str) -> Exported:
        weights = get_model_weights(get_model_builder(name)).DEFAULT
        with synthetic_weights(seed=5):
            model = get_model(name, weights=weights).eval()
        results = export_model(name, weights=weights, formats="all", out=self.out / name, model=model, progress=None)
        self[name] = Exported(model, weights, {r.format: r.path for r in results})
        return self[name]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> _Exports:
    return _Exports(tmp_path_factory.mktemp("zoo"))


@pytest.mark.parametrize(("name", "fmt"), PARITY)
def test_manifest_meta_and_parity_report(exports: _Exports, name: str, fmt: str) -> None:
    exported = exports[name]
    m = json.loads((exported.bundles[fmt] / "bundle.json").read_text())
    weights = exported.weights
    assert (m["format"], m["name"]) == (fmt, name) and m["weights"] == f"{type(weights).__name__}.{weights.name}"
    meta = m["meta"]
    assert meta["categories"] == weights.meta["categories"] and len(meta["categories"]) == 1000
    assert meta["source_sha256"] == (weights.sha256 or None) and meta["metrics"] == weights.meta["_metrics"]
    preset = weights.transforms()
    assert meta["preprocessing"]["resize_size"] == preset.resize_size
    assert meta["preprocessing"]["crop_size"] == preset.crop_size
    assert m["outputs"][0]["shape"] == ["batch", 1000]
    parity = m["parity"]
    assert parity["checked"] and parity["passed"], parity
    assert len(parity["cases"]) == 4
    exact = 0
    for case in parity["cases"]:
        out = case["outputs"]["probabilities"]
        assert out["passed"] and out["top1_agree"], case
        if out["atol"] is not None:
            exact += 1
            assert out["max_abs"] <= out["atol"] and out["max_rel"] <= REL, case
        else:  # onnxruntime's antialiased resize: checked on the preprocessed tensor (one uint8 step)
            assert fmt in ("onnx", "triton") and case["checks"]["max_uint8_steps"] <= 1.001
    assert exact >= 1


@pytest.mark.parametrize("name", ["resnet50", "vit_b_16"])
def test_onnx_bundle_matches_eager_pipeline(exports: _Exports, name: str) -> None:
    """Beyond the exporter's own report: the deployed path (onnxruntime) against eager, run here."""
    exported = exports[name]
    bundle = load(exported.bundles["onnx"])
    side = exported.weights.transforms().resize_size  # the shorter side already has the size: no resampling
    images = np.random.default_rng(3).integers(0, 256, (2, 3, side, side + 37), dtype=np.uint8)
    got, expected = bundle.run(images)["probabilities"], exported.eager(images)
    assert got.shape == (2, 1000) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=REL * float(expected.max()))
    assert (got.argmax(-1) == expected.argmax(-1)).all()
