"""INT8 and BF16 bundles, and the OpenVINO engine: real weights (EfficientNet-Lite0, MiniLM-L6).

Each bundle is exported once per module: EfficientNet-Lite0 in FP32 and INT8 (static QDQ),
MiniLM-L6 in INT8 (int8 weights, activations quantized at run time), and EfficientNet-Lite0 quantized with a bad calibration set to
see the refusal. The tests run the bundles on every installed engine (onnxruntime, OpenVINO:
the test extra installs both) and read their manifests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import subprocess_env
from export_helpers import blocked_python, one_line
from modelver_export import export_model, quantize
from modelver_export._bundle import sha256_file
from modelver_export.agreement import HELD_OUT_PHOTOS
from modelver_export.runtime import engine_choice as engines
from modelver_export.runtime import load
from modelver_export.tasks.text import SENTENCES

from modelver.errors import BundleError
from modelver.models.efficientnet_lite import EfficientNet_Lite0_Weights
from modelver.predict import sample_image

WEIGHTS = EfficientNet_Lite0_Weights.DEFAULT
CATS = {"tiger cat", "Egyptian cat", "tabby", "Persian cat", "Siamese cat"}
#: all-MiniLM-L6-v2's published cosine similarities of SENTENCES (0-1, 0-2, 1-2)
PUBLISHED = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}
ENGINES = engines.available_engines()


def test_both_engines_are_installed_for_the_tests() -> None:
    assert ENGINES == ["onnxruntime", "openvino"], "pip install -e '.[test]' installs openvino too"


@pytest.fixture(scope="module")
def lite0(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("lite0")
    (fp32,) = export_model("efficientnet_lite0", formats="onnx", out=out / "fp32", progress=None)
    (int8,) = export_model("efficientnet_lite0", formats="onnx", out=out / "int8", quantize="int8", progress=None)
    return {"fp32": fp32.path, "int8": int8.path}


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")  # MiniLM's files come from its installed package
        (result,) = export_model(
            "minilm_l6", formats="onnx", out=tmp_path_factory.mktemp("minilm"), quantize="int8", progress=None
        )
    return result.path


def photo(name: str) -> np.ndarray:
    return np.asarray(sample_image(name))


@pytest.mark.parametrize("engine", ENGINES)
def test_lite0_int8_keeps_espresso_and_a_cat_first(lite0: dict[str, Path], engine: str) -> None:
    bundle = load(lite0["int8"], engine=engine)
    assert bundle.engine.startswith(engine)
    assert bundle.predict_image(photo("coffee"), 1)[0][0] == "espresso"
    assert bundle.predict_image(photo("chelsea"), 1)[0][0] in CATS
    fp32 = load(lite0["fp32"], engine="onnxruntime").run(photo("chelsea").transpose(2, 0, 1)[None].copy())
    int8 = bundle.run(photo("chelsea").transpose(2, 0, 1)[None].copy())
    assert np.abs(fp32["probabilities"] - int8["probabilities"]).max() < 0.15  # the export's threshold


def test_lite0_int8_manifest_says_what_it_derives_from(lite0: dict[str, Path]) -> None:
    manifest = json.loads((lite0["int8"] / "bundle.json").read_text())
    fp32 = json.loads((lite0["fp32"] / "bundle.json").read_text())
    quant = manifest["quantization"]
    assert quant["method"] == "static-qdq" and quant["precision"] == "int8"
    assert quant["derived_from"]["weights"] == "EfficientNet_Lite0_Weights.IMAGENET1K_V1"
    assert quant["derived_from"]["weights_sha256"] == fp32["meta"]["source_sha256"]
    # the FP32 export is deterministic: the INT8 bundle names exactly the file an FP32 export writes
    assert quant["derived_from"]["fp32_model_sha256"] == sha256_file(lite0["fp32"] / "model.onnx")
    names, arrays = quantize.calibration_images(WEIGHTS.transforms().resize_size)
    assert quant["calibration"]["sha256"] == quantize.calibration_digest(names, arrays)
    assert quant["calibration"]["sources"] == names and len(names) == 26
    held = manifest["agreement"]["held_out"]
    assert len(held) == 8 and not set(held) & set(names)  # agreement is measured on photos not calibrated on
    assert all(f"skimage.data.{p}" in held for p in HELD_OUT_PHOTOS)
    assert manifest["agreement"]["passed"] and set(manifest["agreement"]["engines"]) == set(ENGINES)
    for figures in manifest["agreement"]["engines"].values():
        assert figures["top1_agreement"] >= 0.75 and figures["max_prob_diff"] <= 0.15
    assert manifest["meta"]["quantization"] == quant  # the model file describes itself too
    assert (lite0["int8"] / "model.onnx").stat().st_size < 0.3 * (lite0["fp32"] / "model.onnx").stat().st_size


def test_auto_picks_the_engine_fastest_at_export_and_says_so(lite0: dict[str, Path]) -> None:
    engines_at_export = json.loads((lite0["int8"] / "bundle.json").read_text())["agreement"]["engines"]
    timed = {name: result["ms"] for name, result in engines_at_export.items()}
    assert set(timed) == set(ENGINES) and all(ms > 0 for ms in timed.values())
    fastest = min(timed, key=timed.__getitem__)
    bundle = load(lite0["int8"])
    assert bundle.engine.startswith(fastest) and "auto: the fastest at export" in bundle.engine
    assert load(lite0["int8"] / "model.onnx").engine.startswith("onnxruntime")  # a bare file: the measured rule
    assert "static-qdq INT8 bundle" in load(lite0["int8"] / "model.onnx").engine
    fp32 = json.loads((lite0["fp32"] / "bundle.json").read_text())["parity"]["engines"]
    assert all(fp32[name]["ms"] > 0 for name in ENGINES)  # timed too, but FP32 stays on its parity engine
    assert load(lite0["fp32"]).engine == f"onnxruntime {__import__('onnxruntime').__version__}"
    result = subprocess.run(
        [sys.executable, "-m", "modelver", "run", str(lite0["int8"]), "--engine", "onnxruntime", "--topk", "1",
         str(_jpg(lite0["int8"].parent, "coffee"))],
        capture_output=True, text=True, timeout=300, env=subprocess_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, best = result.stdout.splitlines()[:2]
    assert "onnx INT8 (static-qdq) bundle on onnxruntime" in first and best.strip().endswith("espresso")


def _jpg(directory: Path, name: str) -> Path:
    path = directory / f"{name}.jpg"
    if not path.exists():
        sample_image(name).save(path, quality=95)
    return path


def test_fp32_bundle_passes_parity_on_every_engine(lite0: dict[str, Path]) -> None:
    parity = json.loads((lite0["fp32"] / "bundle.json").read_text())["parity"]
    assert parity["passed"] and set(parity["engines"]) == set(ENGINES)
    assert all(result["passed"] for result in parity["engines"].values())
    pixels = photo("chelsea").transpose(2, 0, 1)[None].copy()  # resampled: OpenVINO alone skips the antialiasing
    runs = [load(lite0["fp32"], engine=engine).run(pixels)["probabilities"] for engine in ENGINES]
    assert np.abs(runs[0] - runs[1]).max() < 1e-4


def test_bf16_on_openvino_agrees_with_fp32_and_is_reported(lite0: dict[str, Path]) -> None:
    if "BF16" not in engines.cpu_capabilities():
        with pytest.raises(BundleError) as exc:
            load(lite0["fp32"], precision="bf16")
        assert "BF16 instructions" in one_line(exc)
        return
    report = json.loads((lite0["fp32"] / "bundle.json").read_text())["bf16"]
    assert report["passed"] and report["engines"]["openvino (bf16)"]["max_prob_diff"] < 0.05
    bundle = load(lite0["fp32"], precision="bf16")
    assert bundle.engine.startswith("openvino") and "(bf16)" in bundle.engine
    assert bundle.predict_image(photo("coffee"), 1)[0][0] == "espresso"
    with pytest.raises(BundleError) as exc:
        load(lite0["fp32"], engine="onnxruntime", precision="bf16")
    assert "runs on OpenVINO" in one_line(exc)


@pytest.mark.parametrize("engine", ENGINES)
def test_minilm_int8_keeps_the_published_similarities(minilm: Path, engine: str) -> None:
    bundle = load(minilm, engine=engine)
    embeddings = bundle.embed(list(SENTENCES))
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarities = unit @ unit.T
    for (i, j), published in PUBLISHED.items():
        assert abs(similarities[i, j] - published) <= 0.01, ((i, j), similarities[i, j])


def test_minilm_int8_weights_are_int8_and_recorded(minilm: Path) -> None:
    manifest = json.loads((minilm / "bundle.json").read_text())
    assert manifest["quantization"]["method"] == "weight-only-qdq" and manifest["quantization"]["calibration"] is None
    model = onnx.load(str(minilm / "model.onnx"))
    constants = {init.name: init for init in model.graph.initializer}
    int8 = {
        node.output[0]
        for node in model.graph.node
        if node.op_type == "DequantizeLinear" and constants[node.input[0]].data_type == onnx.TensorProto.INT8
    }
    weighted = [n for n in model.graph.node if n.op_type == "MatMul" and (n.input[1] in constants or n.input[1] in int8)]
    assert len(weighted) == 36 and all(n.input[1] in int8 for n in weighted)  # 6 layers x 6 linear layers
    used = {name for node in model.graph.node for name in node.input}
    assert set(constants) <= used  # the FP32 weights left the file, not just the graph
    for figures in manifest["agreement"]["engines"].values():
        assert figures["min_cosine"] >= 0.99 and figures["max_similarity_change"] <= 0.01
    assert manifest["agreement"]["held_out"] == list(SENTENCES)
    timed = {name: result["ms"] for name, result in manifest["agreement"]["engines"].items()}
    assert load(minilm).engine.startswith(min(timed, key=timed.__getitem__))


def test_int8_bundle_runs_on_openvino_without_torch(lite0: dict[str, Path], tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from skimage import data\n"
        "import modelver_export.runtime as rt\n"
        f"b = rt.load({str(lite0['int8'])!r}, engine='openvino')\n"
        "print(b.predict_image(data.coffee(), 1)[0][0])\n"
        "assert not any(m.split('.')[0] == 'torch' for m in sys.modules), 'torch was imported'\n"
    )
    result = blocked_python(code, "torch", "torchvision", "torchaudio", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "espresso"


def test_a_bad_calibration_set_is_refused_with_its_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one page of printed text to calibrate a photo classifier: ranges far from a photo's
    monkeypatch.setattr(quantize, "CALIBRATION_PHOTOS", ("text",))
    with pytest.raises(BundleError) as exc:
        export_model("efficientnet_lite0", formats="onnx", out=tmp_path, quantize="int8", progress=None)
    assert "strays too far from FP32" in one_line(exc) and "--no-check" in one_line(exc)
    report = json.loads((tmp_path / "onnx" / "bundle.json").read_text())["agreement"]
    assert not report["passed"]
    assert max(e["max_prob_diff"] for e in report["engines"].values()) > 0.15
    failed = [engine for engine, result in report["engines"].items() if not result["passed"]]
    with pytest.raises(BundleError) as exc:  # the bundle stays for inspection; asking for a failed engine is refused
        load(tmp_path / "onnx", engine=failed[0])
    assert "failed its export check" in one_line(exc)


def test_calibration_directory_adds_images_and_changes_the_digest(tmp_path: Path) -> None:
    base_names, base = quantize.calibration_images(256)
    sample_image("rocket").save(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("not an image, not read")
    names, arrays = quantize.calibration_images(256, tmp_path)
    assert names == [*base_names, f"{tmp_path.name}/a.png"]
    assert arrays[-1].shape == (1, 3, 256, 256) and arrays[-1].dtype == np.uint8
    assert quantize.calibration_digest(names, arrays) != quantize.calibration_digest(base_names, base)
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(BundleError) as exc:
        quantize.calibration_images(256, tmp_path)
    assert "b.jpg is not an image" in one_line(exc)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"name": "efficientnet_lite0", "formats": "torchscript", "quantize": "int8"}, "makes ONNX bundles"),
        ({"name": "efficientnet_lite0", "formats": "onnx", "quantize": "int4"}, "Unknown quantization 'int4'"),
        ({"name": "efficientnet_lite0", "formats": "onnx", "calibration": "."}, "goes with --quantize int8"),
        ({"name": "minilm_l6", "formats": "onnx", "quantize": "int8", "calibration": "."}, "take no --calibration"),
        ({"name": "fasterrcnn_resnet50_fpn", "formats": "onnx", "quantize": "int8"}, "task is 'object_detection'"),
        ({"name": "efficientnet_lite0", "formats": "onnx", "quantize": "int8", "calibration": "/nonexistent"},
         "not a directory"),
    ],
)  # fmt: skip
def test_quantize_requests_that_cannot_be_honoured_fail_before_building(
    kwargs: dict[str, str], fragment: str, tmp_path: Path
) -> None:
    name = kwargs.pop("name")
    with pytest.raises(BundleError) as exc:
        export_model(name, out=tmp_path, progress=None, **kwargs)
    assert fragment in one_line(exc)
    assert not any(tmp_path.iterdir())


def test_engine_errors_are_one_clear_line(lite0: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(BundleError) as exc:
        load(lite0["fp32"], engine="tensorrt")
    assert "Unknown engine 'tensorrt'" in one_line(exc)
    result = subprocess.run(
        [sys.executable, "-m", "modelver", "run", str(lite0["fp32"]), "--precision", "bf16", "--engine",
         "onnxruntime", str(_jpg(tmp_path, "coffee"))],
        capture_output=True, text=True, timeout=300, env=subprocess_env(),
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().startswith("modelver: error: precision='bf16' runs on OpenVINO")
    assert len(result.stderr.strip().splitlines()) == 1
