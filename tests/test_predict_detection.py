"""`modelver predict` on a detection model: prints named detections and draws them, or fails in one line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import pytest
import torch
from conftest import FileServer, sha256, subprocess_env
from PIL import Image

from modelver import Weights, WeightsEnum, _registry
from modelver.cli import main
from modelver.models.detection.faster_rcnn import FasterRCNN_ResNet50_FPN_Weights, fasterrcnn_resnet50_fpn
from modelver.predict import sample_image
from modelver.testing import synthetic_state_dict
from modelver.transforms import ObjectDetection

COCO_V1 = FasterRCNN_ResNet50_FPN_Weights.COCO_V1
CAT = COCO_V1.meta["categories"].index("cat")


class SyntheticDetector_Weights(WeightsEnum):
    # The url and sha256 are set by the fixture, once the loopback server runs.
    COCO_CAT = Weights(url="http://127.0.0.1:9/unset.pth", transforms=ObjectDetection, meta={**COCO_V1.meta})
    DEFAULT = COCO_CAT


def synthetic_detector(
    *, weights: Optional[SyntheticDetector_Weights] = None, progress: bool = True, **kwargs: Any
) -> Any:
    """fasterrcnn_resnet50_fpn given the entry's file as custom weights, on small images."""
    weights = SyntheticDetector_Weights.verify(weights)
    return fasterrcnn_resnet50_fpn(
        weights=None if weights is None else weights.value,
        weights_backbone=None,
        progress=progress,
        min_size=160,
        max_size=240,
        rpn_pre_nms_top_n_test=200,
        rpn_post_nms_top_n_test=100,
        **kwargs,
    )


@pytest.fixture(scope="module")
def cat_checkpoint() -> bytes:
    """Synthetic Faster R-CNN weights whose classifier prefers 'cat' everywhere."""
    with torch.device("meta"):
        skeleton = fasterrcnn_resnet50_fpn(weights_backbone=None)
    state_dict = synthetic_state_dict(skeleton, seed=11)
    state_dict["roi_heads.box_predictor.cls_score.bias"][CAT] = 8.0
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.getvalue()


@pytest.fixture
def registered(cat_checkpoint: bytes, server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server.files["/synthetic-detector.pth"] = cat_checkpoint
    monkeypatch.setattr(SyntheticDetector_Weights.COCO_CAT.value, "url", server.url("/synthetic-detector.pth"))
    monkeypatch.setattr(SyntheticDetector_Weights.COCO_CAT.value, "sha256", sha256(cat_checkpoint))
    saved = dict(_registry._BUILDERS)
    _registry.register_model("synthetic_detector")(synthetic_detector)
    yield "synthetic_detector"
    _registry._BUILDERS.clear()
    _registry._BUILDERS.update(saved)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "chelsea.png"
    sample_image("chelsea").save(path)
    return path


def red_pixels(path: Path) -> int:
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int(((rgb[..., 0] > 200) & (rgb[..., 1] < 40) & (rgb[..., 2] < 40)).sum())


def test_prints_named_detections_and_draws_them(registered: str, photo: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "drawn" / "boxes.png"
    assert main(["predict", registered, str(photo), "--out", str(out), "--threshold", "0.6", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    count = int(lines[0].split(": ")[1].split()[0])
    detections = lines[1:-1]
    assert count == len(detections) > 0 and lines[-1] == f"boxes drawn in {out}"
    width, height = Image.open(photo).size
    for line in detections:
        percent, label, box = line.split(maxsplit=2)
        assert label == "cat" and float(percent.rstrip("%")) >= 60
        x1, y1, x2, y2 = (int(v) for v in box.strip("[]").split(", "))
        assert 0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height  # boxes in the photo's own pixels
    assert Image.open(out).size == (width, height)
    assert red_pixels(out) > red_pixels(photo) + 100


def test_high_threshold_draws_nothing(registered: str, photo: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "none.png"
    assert main(["predict", registered, str(photo), "--out", str(out), "--threshold", "1", "--quiet"]) == 0
    assert ": 0 object(s) with score >= 1.0" in capsys.readouterr().out
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(photo).convert("RGB")))


def test_without_weights_it_fails_in_one_line_and_writes_nothing(photo: Path, tmp_path: Path) -> None:
    """As a user without internet (an unreachable host: a closed proxy port)."""
    exe = Path(sys.executable).with_name("modelver")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "modelver"]
    out = tmp_path / "boxes.jpg"
    env = subprocess_env(
        MODELVER_CACHE=str(tmp_path / "cache"),
        https_proxy="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        no_proxy="",
        NO_PROXY="",
    )
    result = subprocess.run(
        [*command, "predict", "fasterrcnn_resnet50_fpn", str(photo), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelver: error: Cannot reach " + COCO_V1.url)
    assert (
        str(tmp_path / "cache" / "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth") in lines[0] and "copy it to" in lines[0]
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("efficientnet_lite0", "--out", "x.jpg"),
            ("--out is for object_detection models; efficientnet_lite0 is an image_classification model "
            "(it prints its top-k)."),
        ),
        (("fasterrcnn_resnet50_fpn", "--threshold", "1.5"), "--threshold must be between 0 and 1, got 1.5."),
    ],
)
def test_bad_options_fail_before_any_work(args: tuple[str, ...], message: str, photo: Path, capsys: Any) -> None:
    name, *options = args
    assert main(["predict", name, str(photo), *options]) == 1
    assert capsys.readouterr().err.strip() == f"modelver: error: {message}"
