"""Object detection bundles: Faster R-CNN v1 and v2 (synthetic weights, small images) in every format they support.

Each builder is exported once per module (TorchScript, ONNX, Triton); the tests read the
manifests, compare the bundles with eager torchvision on inputs the exporter did not check,
run them through the runtime and ``modelver run`` (the ONNX one where torch cannot be
imported), and check the refusals. The score threshold is lowered per builder so that every
checked image has some detections but fewer than the cap: a parity check of empty (or
cut-off) outputs could not fail.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import pytest
import torch
from conftest import subprocess_env
from export_helpers import blocked_python, one_line, parity_cases
from modelver_export import export_model
from modelver_export._bundle import sha256_file
from modelver_export.runtime import Bundle, describe_run, load
from modelver_export.support import builder_support

from modelver import get_model, get_model_weights
from modelver.errors import BundleError
from modelver.predict import Detection, detect
from modelver.testing import synthetic_weights

FORMATS = ("torchscript", "onnx", "triton")
# Small images and few proposals keep a forward pass well under a second: v2's box head runs four 3x3
# convolutions on every proposal, 11 GFLOPs for torchvision's 1000 (0.2 here).
SMALL = {"min_size": 128, "max_size": 160, "rpn_pre_nms_top_n_test": 100, "rpn_post_nms_top_n_test": 20}
#: builder → the score threshold at which seed 2's synthetic weights detect 7 to 15 objects in each checked
#: image (v2's synthetic scores stay near 1/91: its threshold is lower)
BUILDERS = {"fasterrcnn_resnet50_fpn": 0.3, "fasterrcnn_resnet50_fpn_v2": 0.035}
SEED = 2
#: the exporter's bounds (boxes in pixels, scores as probabilities)
BOX_ATOL, SCORE_ATOL = 0.05, 5e-4
PHOTO = "astronaut"  # scikit-image's photo with a person in it


@dataclasses.dataclass
class Exported:
    name: str
    model: torch.nn.Module
    weights: Any
    bundles: dict[str, Path]
    threshold: float


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    out = tmp_path_factory.mktemp("detection")
    found = {}
    for name, threshold in BUILDERS.items():
        weights = get_model_weights(name).DEFAULT
        with synthetic_weights(seed=SEED):
            model = get_model(name, weights=weights, box_score_thresh=threshold, **SMALL).eval()
        results = export_model(name, formats=",".join(FORMATS), out=out / name, model=model, progress=None)
        found[name] = Exported(name, model, weights, {r.format: r.path for r in results}, threshold)
    return found


@pytest.fixture(scope="module")
def loaded(exported: dict[str, Exported]) -> Callable[[str, str], Bundle]:
    """Each bundle loaded once per module (a 160 MB model takes seconds to load and to warm up)."""
    cache: dict[tuple[str, str], Bundle] = {}

    def get(name: str, fmt: str) -> Bundle:
        if (name, fmt) not in cache:
            cache[name, fmt] = load(exported[name].bundles[fmt], trust_code=True)  # exported by this test
        return cache[name, fmt]

    return get


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelver.predict import sample_image

    path = tmp_path_factory.mktemp("photo") / f"{PHOTO}.png"
    sample_image(PHOTO).resize((200, 160)).save(path)  # an aspect ratio the exporter's own check did not see
    return path


def manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "bundle.json").read_text())


def assert_same_detections(got: list[Detection], expected: list[Detection]) -> None:
    """Each eager detection has its own in ``got``: same label, box and score within the bounds (any order
    among near-ties)."""
    assert expected, "the comparison needs detections: lower the builder's score threshold"
    assert len(got) == len(expected), (len(got), len(expected))
    left = list(got)
    for want in expected:
        match = next(
            (
                d
                for d in left
                if d.label == want.label
                and abs(d.score - want.score) <= SCORE_ATOL
                and np.abs(np.subtract(d.box, want.box)).max() <= BOX_ATOL
            ),
            None,
        )
        assert match is not None, (want, got)
        left.remove(match)


@pytest.mark.parametrize(("name", "fmt"), parity_cases({name: FORMATS for name in BUILDERS}))
def test_parity_report_and_manifest(exported: dict[str, Exported], name: str, fmt: str) -> None:
    ex = exported[name]
    path = ex.bundles[fmt]
    m = manifest(path)
    assert (m["format"], m["task"], m["name"]) == (fmt, "object_detection", name)
    assert m["weights"] == f"{type(ex.weights).__name__}.COCO_V1"
    for file, entry in m["files"].items():
        assert sha256_file(path / file) == entry["sha256"]
    assert [(s["name"], s["dtype"], s["shape"]) for s in m["inputs"]] == [
        ("images", "uint8", ["batch", 3, "height", "width"])
    ]
    assert [(s["name"], s["dtype"], s["shape"]) for s in m["outputs"]] == [
        ("boxes", "float32", ["batch", 100, 4]),
        ("scores", "float32", ["batch", 100]),
        ("labels", "int64", ["batch", 100]),
        ("num_detections", "int64", ["batch"]),
    ]
    meta = m["meta"]
    assert meta["categories"] == ex.weights.meta["categories"] and meta["categories"][1] == "person"
    assert meta["metrics"] == ex.weights.meta["_metrics"]  # box mAP on COCO-val2017
    assert meta["preprocessing"]["min_size"] == 128 and meta["preprocessing"]["max_size"] == 160
    assert meta["detection"]["score_threshold"] == pytest.approx(ex.threshold)
    if fmt != "torchscript":
        assert "dynamo=False" in m["export"]["method"]

    parity = m["parity"]
    assert parity["checked"] and parity["passed"], parity
    assert parity["cases"][0]["case"].startswith("astronaut photo")
    assert len(parity["cases"]) == 3
    for case in parity["cases"]:
        outputs = case["outputs"]
        assert outputs["labels"]["max_abs"] == 0 and outputs["num_detections"]["max_abs"] == 0
        assert outputs["boxes"]["atol"] == BOX_ATOL and outputs["boxes"]["max_abs"] <= BOX_ATOL
        assert outputs["scores"]["atol"] == SCORE_ATOL and outputs["scores"]["max_abs"] <= SCORE_ATOL


@pytest.mark.parametrize("name", BUILDERS)
def test_checked_images_had_detections_to_compare(
    exported: dict[str, Exported], loaded: Callable[[str, str], Bundle], name: str
) -> None:
    """The counts matched eager exactly (above); here: they were neither zero nor the cap of 100."""
    from modelver_export.tasks.object_detection import ObjectDetectionExporter

    ex = exported[name]
    bundle = loaded(name, "onnx")
    task = ObjectDetectionExporter(name, ex.model, ex.weights, "w")
    for case in task.cases():
        counts = bundle.run(case.inputs)["num_detections"]
        assert ((counts > 0) & (counts < 100)).all(), (case.name, counts)


@pytest.mark.parametrize("name", BUILDERS)
def test_every_format_detects_what_eager_detects_in_a_new_photo(
    exported: dict[str, Exported], loaded: Callable[[str, str], Bundle], name: str, photo: Path
) -> None:
    """``bundle.predict_image`` against ``modelver.predict.detect`` (torchvision's model, the weights' transforms)."""
    from modelver.predict import load_image

    ex = exported[name]
    expected = detect(ex.model, ex.weights, load_image(photo), ex.threshold)
    for fmt in FORMATS:
        bundle = loaded(name, fmt)
        got = bundle.predict_image(photo, score_threshold=ex.threshold)
        assert all(isinstance(d, Detection) for d in got)
        assert [d.score for d in got] == sorted((d.score for d in got), reverse=True)
        assert_same_detections(got, expected)
        assert bundle.predict_image(photo, 2, score_threshold=ex.threshold) == got[:2]


def test_onnx_bundle_detects_without_torch(
    exported: dict[str, Exported], loaded: Callable[[str, str], Bundle], photo: Path, tmp_path: Path
) -> None:
    ex = exported["fasterrcnn_resnet50_fpn"]
    code = (
        "import sys, modelver_export.runtime as rt\n"
        f"b = rt.load({str(ex.bundles['onnx'])!r})\n"
        f"for d in b.detect({str(photo)!r}, {ex.threshold}):\n"
        "    print(d.label, repr(d.score), *map(repr, d.box), sep='|')\n"
        # `python -m modelver_export.runtime BUNDLE PHOTO --out boxes.png`: the boxes drawn with Pillow only
        f"assert rt.main([{str(ex.bundles['onnx'])!r}, {str(photo)!r}, '--out', 'boxes.png', '--threshold', "
        f"'{ex.threshold}']) == 0\n"
        "assert not any(m.split('.')[0] == 'torch' for m in sys.modules), 'torch was imported'\n"
    )
    result = blocked_python(code, "torch", "torchvision", "torchaudio", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "boxes.png").is_file() and "boxes drawn in boxes.png" in result.stdout
    rows = [line.split("|") for line in result.stdout.split("fasterrcnn_resnet50_fpn (", 1)[0].splitlines()]
    got = [Detection(label, float(score), tuple(float(v) for v in box)) for label, score, *box in rows]
    assert got == loaded(ex.name, "onnx").detect(photo, ex.threshold)  # the same run as with torch importable
    from modelver.predict import load_image

    assert_same_detections(got, detect(ex.model, ex.weights, load_image(photo), ex.threshold))


def test_modelver_run_draws_the_boxes(
    exported: dict[str, Exported], loaded: Callable[[str, str], Bundle], photo: Path, tmp_path: Path
) -> None:
    from PIL import Image

    ex = exported["fasterrcnn_resnet50_fpn"]
    out = tmp_path / "boxes.jpg"
    exe = shutil.which("modelver", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "modelver"]
    result = subprocess.run(
        [*command, "run", str(ex.bundles["onnx"]), str(photo), "--out", str(out), "--threshold", str(ex.threshold)],
        capture_output=True, text=True, timeout=300, env=subprocess_env(),
    )
    assert result.returncode == 0, result.stderr
    head, *rows, drawn = result.stdout.strip().splitlines()
    expected = loaded(ex.name, "onnx").detect(photo, ex.threshold)
    assert head == (
        f"fasterrcnn_resnet50_fpn (FasterRCNN_ResNet50_FPN_Weights.COCO_V1), onnx bundle on onnxruntime "
        f"{__import__('onnxruntime').__version__}, {photo}: {len(expected)} object(s) with score >= {ex.threshold}"
    )
    assert [row.strip() for row in rows] == [str(d).strip() for d in expected]
    assert drawn == f"  boxes drawn in {out}"
    with Image.open(out) as image, Image.open(photo) as original:
        assert image.size == original.size
        pixels = np.asarray(image.convert("RGB")).astype(int)
        x1, y1, _, _ = (round(v) for v in expected[0].box)
        x1, y1 = min(max(x1, 1), image.size[0] - 2), min(max(y1, 1), image.size[1] - 2)
        red = pixels[y1 - 1 : y1 + 2, x1 - 1 : x1 + 2]  # the best box's corner is drawn red
        assert ((red[..., 0] > 180) & (red[..., 1] < 90) & (red[..., 2] < 90)).any()
    scripted = loaded(ex.name, "torchscript")
    lines = describe_run(scripted, [str(photo)], threshold=ex.threshold)
    assert [line.strip() for line in lines[1:]] == [str(d).strip() for d in scripted.detect(photo, ex.threshold)]


def test_onnx_file_has_dynamic_axes_and_carries_meta(exported: dict[str, Exported]) -> None:
    model = onnx.load(str(exported["fasterrcnn_resnet50_fpn"].bundles["onnx"] / "model.onnx"))
    (image,) = model.graph.input
    assert [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim] == ["batch", 3, "height", "width"]
    props = {p.key: json.loads(p.value) for p in model.metadata_props if p.key != "modelver.meta_sha256"}
    assert props["weights"] == "FasterRCNN_ResNet50_FPN_Weights.COCO_V1"
    assert props["metrics"] == {"COCO-val2017": {"box_map": 37.0}}
    assert len(props["categories"]) == 91
    assert "`num_detections` int64 (batch,)" in model.doc_string


def test_triton_config_validates(exported: dict[str, Exported]) -> None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    ex = exported["fasterrcnn_resnet50_fpn_v2"]
    model_dir = ex.bundles["triton"]
    config = text_format.Parse((model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert config.backend == "onnxruntime" and config.max_batch_size == 8
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [
        ("images", model_config_pb2.TYPE_UINT8, [3, -1, -1])
    ]
    assert [(o.name, o.data_type, list(o.dims), list(o.reshape.shape)) for o in config.output] == [
        ("boxes", model_config_pb2.TYPE_FP32, [100, 4], []),
        ("scores", model_config_pb2.TYPE_FP32, [100], []),
        ("labels", model_config_pb2.TYPE_INT64, [100], []),
        ("num_detections", model_config_pb2.TYPE_INT64, [1], []),
    ]
    assert config.output[3].HasField("reshape")
    assert (model_dir / "labels.txt").read_text().splitlines() == ex.weights.meta["categories"]


def test_support_table_says_why_not_pt2() -> None:
    for name in BUILDERS:
        task, formats = builder_support(name)
        assert task == "object_detection"
        assert [fmt for fmt, reason in formats.items() if reason is None] == list(FORMATS)
        assert formats["pt2"].startswith("torch.export cannot capture torchvision's detection models")


def test_refusals_come_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as exc:
        export_model("fasterrcnn_resnet50_fpn", formats="pt2", out=tmp_path, progress=None)
    assert "fasterrcnn_resnet50_fpn cannot be exported to pt2: torch.export cannot capture" in one_line(exc)
    with pytest.raises(BundleError) as exc:
        export_model("fasterrcnn_resnet50_fpn_v2", formats="torchscript,triton", opset=22, out=tmp_path, progress=None)
    assert "--opset 22: object detection ONNX bundles come from torch's TorchScript-based exporter" in one_line(exc)
    assert "choose 18 to 20" in one_line(exc)
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_are_one_clear_line(loaded: Callable[[str, str], Bundle], tmp_path: Path) -> None:
    bundle = loaded("fasterrcnn_resnet50_fpn", "onnx")
    for value, fragment in (
        (np.zeros((1, 3, 64, 64), np.float32), "must be uint8"),
        (np.zeros((3, 64, 64), np.uint8), "must have 4 dimensions (batch, 3, height, width)"),
    ):
        with pytest.raises(BundleError) as exc:
            bundle.run(value)
        assert fragment in one_line(exc)
    with pytest.raises(BundleError) as exc:
        bundle.detect(np.zeros((64, 64, 3), np.uint8), score_threshold=1.5)
    assert "The score threshold must be between 0 and 1, got 1.5." == one_line(exc)
    with pytest.raises(BundleError) as exc:
        describe_run(bundle, ["x.jpg"], threshold=-0.1)
    assert "--threshold must be between 0 and 1, got -0.1." == one_line(exc)
    with pytest.raises(BundleError, match="does not exist"):
        bundle.detect(tmp_path / "none.jpg")
