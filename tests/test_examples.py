"""Each script in examples/ runs as a user runs it (``python examples/X.py``) and prints what it claims."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, subprocess_env

EXAMPLES = ROOT / "examples"
OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "", "NO_PROXY": ""}


def run(script: str, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=subprocess_env(**env),
        timeout=300,
    )


def lines_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.strip().splitlines()]


@pytest.mark.parametrize(
    "script", ["scenario1_multi_weights.py", "scenario2_updated_default.py", "scenario3_behaviour_change.py"]
)
def test_scenario_docstrings_name_the_real_case(script: str) -> None:
    doc = ast.get_docstring(ast.parse((EXAMPLES / script).read_text()))
    assert doc and "Real-world case:" in doc and "https://github.com/pytorch/vision/" in doc
    assert f"Run: python examples/{script}" in doc


def test_scenario1_multi_weights_and_versions() -> None:
    out = lines_of(run("scenario1_multi_weights.py"))
    assert "TinyNet_Weights.CATDOG_V1: 2 categories, fine-tuned on cats and dogs" in out
    assert "DEFAULT -> TinyNet_Weights.IMAGENET1K_V2" in out
    assert "DEFAULT loads TinyNet_Weights.IMAGENET1K_V2: True, 1000 outputs" in out
    assert any(line.startswith("CATDOG_V1 has 2 outputs, named from its meta: '") for line in out)
    assert "tinynet(weights=Weights(url=...my-hotdog-model.pth)): 2 outputs, loaded: True" in out
    assert (
        "tinynet_v2(weights='DEFAULT') loads TinyNet_V2_Weights.IMAGENET1K_V1: True, 9 feature layers (tinynet: 3)"
        in out
    )
    assert (
        "tinynet_v2(weights=TinyNet_Weights.IMAGENET1K_V1) is refused: Invalid Weight class provided; "
        "expected TinyNet_V2_Weights but received TinyNet_Weights."
    ) in out
    assert "tinynet(pretrained=True) still loads TinyNet_Weights.IMAGENET1K_V1: True (2 deprecation warnings)" in out
    assert "tinynet(False) is still an untrained model: True (2 deprecation warnings)" in out


def test_scenario2_old_weights_keep_the_old_eps() -> None:
    out = lines_of(run("scenario2_updated_default.py"))
    assert out[0] == "FrozenBatchNorm2d's default eps today: 1e-05"
    assert "backbone(weights=COCO_V1): eps=0, reproduces the release's outputs: True (max |diff| 0)" in out
    naive = next(line for line in out if line.startswith("COCO_V1 loaded into a model built with today's default"))
    assert "eps=1e-05, reproduces the release's outputs: False" in naive
    assert "backbone(weights=COCO_V2): eps=1e-05, reproduces the release's outputs: True (max |diff| 0)" in out
    assert "backbone(weights=None): eps=1e-05" in out
    assert out[-1] == "FrozenBatchNorm2d(1).eps after building COCO_V1: 1e-05"


def test_scenario3_old_behaviour_only_for_old_weights() -> None:
    out = lines_of(run("scenario3_behaviour_change.py"))
    right, rfc = out[: out.index("The RFC example's condition (weights is None), on the same releases")], out
    assert "boxhead(weights=COCO_V1): aligned=False, reproduces the release's outputs: True (max |diff| 0)" in right
    assert "boxhead(weights=COCO_V2): aligned=True, reproduces the release's outputs: True (max |diff| 0)" in right
    assert "boxhead(weights=None), new training: aligned=True" in right
    wrong = rfc[rfc.index("The RFC example's condition (weights is None), on the same releases") + 1 :]
    assert wrong[0].startswith("boxhead(weights=COCO_V1): aligned=True, reproduces the release's outputs: False")
    assert wrong[1] == "boxhead(weights=None), new training: aligned=False"


def test_image_classification_on_the_default_cat() -> None:
    out = lines_of(run("image_classification.py"))
    assert out[0].startswith("weights: EfficientNet_Lite0_Weights.IMAGENET1K_V1 (DEFAULT), 4,652,008 parameters")
    assert "get_weight('EfficientNet_Lite0_Weights.DEFAULT') is the same entry: True" in out
    assert "get_model('efficientnet_lite0', weights='DEFAULT') predicts the same class: True" in out
    assert out[-2] == "cat.jpg (451x300):"
    label, percent = out[-1].rsplit(": ", 1)
    assert label in {"tiger cat", "Egyptian cat", "tabby"} and percent.endswith("%")


def test_image_detection_without_weights_says_so_in_one_line(tmp_path: Path) -> None:
    result = run("image_detection.py", cwd=tmp_path, MODELVER_CACHE=str(tmp_path / "cache"), **OFFLINE)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("image_detection.py: no weights, no detection: Cannot reach ")
    assert str(tmp_path / "cache" / "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth") in lines[0]
    assert not (tmp_path / "output").exists()


def test_image_detection_draws_boxes_with_a_checkpoint(tmp_path: Path) -> None:
    from PIL import Image

    from modelver.models.detection import FasterRCNN_ResNet50_FPN_Weights, fasterrcnn_resnet50_fpn
    from modelver.testing import synthetic_state_dict

    with torch.device("meta"):
        skeleton = fasterrcnn_resnet50_fpn(weights_backbone=None)
    state_dict = synthetic_state_dict(skeleton, seed=5)
    categories = FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    state_dict["roi_heads.box_predictor.cls_score.bias"][categories.index("cat")] = 8.0
    torch.save(state_dict, tmp_path / "my-detector.pth")

    out = lines_of(
        run("image_detection.py", "--checkpoint", str(tmp_path / "my-detector.pth"), cwd=tmp_path, **OFFLINE)
    )
    detections, summary = out[:-1], out[-1]
    assert summary == f"{len(detections)} object(s) with score >= 0.8; saved output/object-detection.jpg"
    assert detections and all(line.split()[1] == "cat" for line in detections)
    assert Image.open(tmp_path / "output" / "object-detection.jpg").size == (451, 300)
