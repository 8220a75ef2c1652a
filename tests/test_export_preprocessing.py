"""The preprocessing baked into bundles equals the weights' own ``weights.transforms()``.

The torch pipeline (TorchScript and .pt2 bundles) must be bit-exact; the ONNX graph may
round a resized pixel to the other neighbouring uint8 value (onnxruntime's Resize is not
torch's), never by more than one step and rarely.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime
import pytest
import torch
from modelver_export._onnx_image import preprocessing_model
from modelver_export._preprocessing import ImagePreprocessing
from modelver_export.tasks.image_classification import ImageClassifierPipeline
from torch import nn

from modelver.errors import BundleError
from modelver.transforms import ImageClassification

SHAPES = [(2, 3, 300, 451), (1, 3, 451, 300), (1, 3, 224, 224), (1, 3, 256, 341), (1, 3, 100, 101), (1, 3, 1, 1)]
PRESETS = [
    {"crop_size": 224, "resize_size": 256},
    {"crop_size": 224, "resize_size": 232, "interpolation": "bicubic"},
    {"crop_size": 224, "resize_size": 256, "antialias": False},
    {"crop_size": 300, "resize_size": 256},  # crop larger than the resize: zero padding
]


def _inputs(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _session(preset: ImageClassification) -> onnxruntime.InferenceSession:
    model = preprocessing_model(ImagePreprocessing.from_transforms(preset, "test"), 18)
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("kwargs", PRESETS, ids=lambda k: "-".join(f"{v}" for v in k.values()))
def test_onnx_graph_is_within_one_uint8_step(kwargs: dict) -> None:
    preset = ImageClassification(**kwargs)
    session = _session(preset)
    std = np.asarray(preset.std, dtype=np.float32).reshape(1, 3, 1, 1)
    for i, shape in enumerate(SHAPES):
        x = _inputs(shape, i)
        expected = preset(torch.from_numpy(x)).numpy()
        got = session.run(None, {"images": x})[0]
        assert got.shape == expected.shape
        steps = np.abs(got - expected) * 255 * std
        assert steps.max() <= 1.001, (shape, steps.max())
        assert (steps > 0.01).mean() < 0.01, shape
        if min(shape[2:]) == preset.resize_size:  # no resampling: exact
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [*PRESETS, {"crop_size": 224, "resize_size": 256, "interpolation": "nearest"}],
    ids=lambda k: "-".join(f"{v}" for v in k.values()),
)
def test_torch_pipeline_preprocessing_is_bit_exact_eager_and_scripted(kwargs: dict) -> None:
    preset = ImageClassification(**kwargs)
    pipeline = ImageClassifierPipeline(nn.Identity(), ImagePreprocessing.from_transforms(preset, "test"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(pipeline)
    for i, shape in enumerate(SHAPES):
        x = torch.from_numpy(_inputs(shape, i))
        expected = preset(x)
        assert torch.equal(pipeline.preprocess(x), expected), shape
        assert torch.equal(scripted.preprocess(x), expected), shape


def test_onnx_refuses_what_it_cannot_match() -> None:
    nearest = ImagePreprocessing.from_transforms(ImageClassification(crop_size=224, interpolation="nearest"), "w")
    with pytest.raises(BundleError, match="'nearest' has no exact ONNX form"):
        preprocessing_model(nearest, 18)
    bilinear = ImagePreprocessing.from_transforms(ImageClassification(crop_size=224), "w")
    with pytest.raises(BundleError, match="needs ONNX opset >= 18"):
        preprocessing_model(bilinear, 17)
