"""Bundles of EfficientNet-Lite0 (real weights) in every format: files, meta, parity, the runtime, errors.

Each format is exported once for the module; the tests then read, load and run what a
deployment would get.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from conftest import ROOT, FaultReport
from export_helpers import blocked_python, parity_cases, refusal
from modelver_export import export_model, support_table
from modelver_export._bundle import sha256_file
from modelver_export.registry import format_names
from modelver_export.runtime import load

from modelver.errors import BundleError
from modelver.models.efficientnet_lite import EfficientNet_Lite0_Weights, efficientnet_lite0
from modelver.predict import classify, sample_image

WEIGHTS = EfficientNet_Lite0_Weights.DEFAULT
FORMATS = format_names()
CATS = {"tiger cat", "Egyptian cat", "tabby"}


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return efficientnet_lite0(weights=WEIGHTS).eval()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory, model: torch.nn.Module) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bundles")
    results = export_model("efficientnet_lite0", weights=WEIGHTS, formats="all", out=out, model=model, progress=None)
    assert [r.format for r in results] == list(FORMATS)
    return {r.format: r.path for r in results}


class _Loaded(dict):  # type: ignore[type-arg]
    """format → the bundle loaded through the runtime, on first use (loading a .pt2 takes seconds)."""

    def __init__(self, paths: dict[str, Path]) -> None:
        super().__init__()
        self.paths = paths

    def __missing__(self, fmt: str) -> Any:
        self[fmt] = load(self.paths[fmt], trust_code=True)  # bundles this test exported itself
        return self[fmt]


@pytest.fixture(scope="module")
def loaded(bundles: dict[str, Path]) -> dict[str, Any]:
    return _Loaded(bundles)


@pytest.fixture(scope="module")
def cat_jpg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "cat.jpg"
    sample_image("chelsea").save(path, quality=95)
    return path


def eager(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(WEIGHTS.transforms()(torch.from_numpy(images))).softmax(-1).numpy()


def manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "bundle.json").read_text())


PARITY = parity_cases({"efficientnet_lite0": FORMATS})


@pytest.mark.parametrize(("name", "fmt"), PARITY)
def test_manifest_files_meta_and_parity(bundles: dict[str, Path], name: str, fmt: str) -> None:
    m = manifest(bundles[fmt])
    assert m["format"] == fmt and m["name"] == name and m["weights"] == "EfficientNet_Lite0_Weights.IMAGENET1K_V1"
    for file, entry in m["files"].items():
        path = bundles[fmt] / file
        assert sha256_file(path) == entry["sha256"] and path.stat().st_size == entry["size"]
    assert m["model_file"] in m["files"]
    assert m["inputs"] == [
        {
            "name": "images",
            "dtype": "uint8",
            "shape": ["batch", 3, "height", "width"],
            "description": m["inputs"][0]["description"],
        }
    ]
    assert m["outputs"][0]["name"] == "probabilities" and m["outputs"][0]["shape"] == ["batch", 1000]
    meta = m["meta"]
    assert meta["categories"] == WEIGHTS.meta["categories"] and meta["source_sha256"] == WEIGHTS.sha256
    assert meta["metrics"] == WEIGHTS.meta["_metrics"] and meta["license"] == "Apache-2.0"
    assert meta["preprocessing"]["resize_size"] == 256 and meta["preprocessing"]["crop_size"] == 224

    parity = m["parity"]
    assert parity["checked"] and parity["passed"]
    assert parity["tolerance"]["probabilities"]["atol"] == 1e-4
    cases = parity["cases"]
    assert cases[0]["case"].startswith("chelsea photo") and len(cases) == 4
    sizes = {c["case"].split("images ")[1].split(")")[0] for c in cases}
    assert len(sizes) == 4  # the photo and three other sizes, one a batch of 2
    for case in cases:
        out = case["outputs"]["probabilities"]
        assert out["passed"] and out["top1_agree"] and {"max_abs", "max_rel", "atol"} <= set(out)
        if out["atol"] is not None:
            assert out["max_abs"] <= out["atol"]
        else:  # onnxruntime's resize: checked on the preprocessed tensor instead
            assert fmt in ("onnx", "triton") and case["checks"]["max_uint8_steps"] <= 1.001
    # at least the input that needs no resampling is held to 1e-4 in every format
    assert any(c["outputs"]["probabilities"]["atol"] == 1e-4 for c in cases)


@pytest.mark.parametrize(("name", "fmt"), PARITY)
def test_bundle_matches_eager_on_new_inputs(
    loaded: dict[str, Any], model: torch.nn.Module, name: str, fmt: str
) -> None:
    bundle = loaded[fmt]
    rng = np.random.default_rng(123)
    exact = rng.integers(0, 256, (3, 3, 256, 300), dtype=np.uint8)  # shorter side 256: no resampling
    np.testing.assert_allclose(bundle.run(exact)["probabilities"], eager(model, exact), rtol=0, atol=1e-4)
    coffee = np.asarray(sample_image("coffee")).transpose(2, 0, 1)[None].copy()
    probs = bundle.run({"images": coffee})["probabilities"]
    assert probs.shape == (1, 1000) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, eager(model, coffee), rtol=0, atol=2e-4)
    assert WEIGHTS.meta["categories"][int(probs.argmax())] == "espresso"


def test_spinning_onnx_session_gives_the_same_probabilities(bundles: dict[str, Path], model: torch.nn.Module) -> None:
    """``load(spin=True)`` / ``modelver run --spin``: onnxruntime's own default, the same results."""
    images = np.random.default_rng(5).integers(0, 256, (1, 3, 256, 290), dtype=np.uint8)
    spinning = load(bundles["onnx"], threads=1, spin=True)
    np.testing.assert_allclose(spinning.run(images)["probabilities"], eager(model, images), rtol=0, atol=1e-4)


def test_predict_image_is_eagers_top5(loaded: dict[str, Any], model: torch.nn.Module, cat_jpg: Path) -> None:
    from modelver.predict import load_image

    expected = classify(model, WEIGHTS, load_image(cat_jpg), 5)
    for fmt in ("onnx", "torchscript"):
        got = loaded[fmt].predict_image(cat_jpg, topk=5)
        assert [label for label, _ in got] == [label for label, _ in expected]
        np.testing.assert_allclose([p for _, p in got], [p for _, p in expected], atol=1e-4)
    assert got[0][0] in CATS


def test_onnx_file_carries_meta_doc_and_dynamic_axes(bundles: dict[str, Path]) -> None:
    path = bundles["onnx"] / "model.onnx"
    assert sorted(p.name for p in bundles["onnx"].iterdir()) == ["bundle.json", "model.onnx"]
    model = onnx.load(str(path), load_external_data=False)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert model.producer_name == "modelver"
    assert model.doc_string.startswith("# efficientnet_lite0 (EfficientNet_Lite0_Weights.IMAGENET1K_V1)")
    props = {p.key: p.value for p in model.metadata_props}
    meta = {k: json.loads(v) for k, v in props.items() if k != "modelver.meta_sha256"}
    assert meta == manifest(bundles["onnx"])["meta"]
    for key in ("weights", "categories", "metrics", "preprocessing", "license", "source_sha256", "modelver_version"):
        assert key in meta
    assert [o.version for o in model.opset_import if o.domain == ""] == [18]
    (image_input,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in image_input.type.tensor_type.shape.dim]
    assert (
        image_input.name == "images" and dims[1] == 3 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))
    )
    assert image_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    onnx.checker.check_model(model)


def test_triton_repository_config_validates(bundles: dict[str, Path]) -> None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    model_dir = bundles["triton"]
    assert model_dir.name == "efficientnet_lite0" and model_dir.parent.name == "triton"
    config = text_format.Parse((model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert config.name == model_dir.name and config.backend == "onnxruntime" and config.max_batch_size == 8
    (inp,) = config.input
    assert (inp.name, inp.data_type, list(inp.dims)) == ("images", model_config_pb2.TYPE_UINT8, [3, -1, -1])
    (out,) = config.output
    assert (out.name, out.data_type, list(out.dims)) == ("probabilities", model_config_pb2.TYPE_FP32, [1000])
    assert out.label_filename == "labels.txt"
    assert (model_dir / "labels.txt").read_text().splitlines() == WEIGHTS.meta["categories"]
    assert config.HasField("dynamic_batching")
    # the served model is the ONNX bundle's, and its tensor names are the config's
    assert sha256_file(model_dir / "1" / "model.onnx") == sha256_file(bundles["onnx"] / "model.onnx")
    graph = onnx.load(str(model_dir / "1" / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["images"] and [o.name for o in graph.output] == ["probabilities"]
    assert load(model_dir.parent).format == "triton"  # the repository root resolves to its one model


def test_onnx_runtime_needs_no_torch(bundles: dict[str, Path], cat_jpg: Path, tmp_path: Path) -> None:
    code = (
        "import sys, modelver_export.runtime as rt\n"
        f"b = rt.load({str(bundles['onnx'])!r})\n"
        f"print(b.predict_image({str(cat_jpg)!r}, topk=1)[0][0])\n"
        "assert not any(m.split('.')[0] in ('torch', 'torchvision') for m in sys.modules), 'torch was imported'\n"
        "import torch\n"
    )
    result = blocked_python(code, "torch", "torchvision", "torchaudio", cwd=tmp_path)
    assert result.stdout.strip() in CATS, result.stderr
    assert "ImportError: torch is blocked in this test" in result.stderr  # the blocker works
    cli = blocked_python(
        f"import sys; from modelver_export.runtime import main; sys.exit(main([{str(bundles['onnx'])!r}, {str(cat_jpg)!r}, '--topk', '2']))",
        "torch",
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    assert "onnx bundle on onnxruntime" in cli.stdout and cli.stdout.splitlines()[1].split("%")[1].strip() in CATS


@pytest.mark.parametrize(
    "fmt, code",
    [
        (
            "torchscript",
            "m = torch.jit.load(PATH + '/model.pt', _extra_files=extra)",
        ),
        (
            "pt2",
            "m = torch.export.load(PATH + '/model.pt2', extra_files=extra).module()",
        ),
    ],
)
def test_torch_bundles_load_without_modelver(
    bundles: dict[str, Path], model: torch.nn.Module, tmp_path: Path, fmt: str, code: str
) -> None:
    images = np.random.default_rng(7).integers(0, 256, (2, 3, 256, 260), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    script = (
        "import json, warnings, numpy as np, torch\n"
        "warnings.simplefilter('ignore')\n"
        f"PATH = {str(bundles[fmt])!r}\n"
        "extra = {'meta.json': ''}\n"
        f"{code}\n"
        "meta = json.loads(extra['meta.json'])\n"
        "with torch.inference_mode():\n"
        "    probs = m(torch.from_numpy(np.load('x.npy'))).numpy()\n"
        "np.save('y.npy', probs)\n"
        "print(meta['weights'], len(meta['categories']))\n"
    )
    result = blocked_python(script, "modelver", "export", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["EfficientNet_Lite0_Weights.IMAGENET1K_V1", "1000"]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), eager(model, images), rtol=0, atol=1e-5)


# --- errors: one line, naming the problem --------------------------------------------------------------
def test_missing_bundle_and_missing_file(bundles: dict[str, Path], tmp_path: Path, fault_report: FaultReport) -> None:
    handled, message = refusal(lambda: load(tmp_path / "nothing"), "does not exist")
    fault_report.record("bundle: missing directory or file", handled)
    assert handled, message
    copy = shutil.copytree(bundles["onnx"], tmp_path / "onnx")
    (copy / "model.onnx").unlink()
    handled, message = refusal(lambda: load(copy), "model.onnx is missing from the bundle")
    fault_report.record("bundle: missing directory or file", handled)
    assert handled, message


def _refused_untouched(path: Path, call: Callable[[], object], *fragments: str) -> tuple[bool, bool, str]:
    """(refused with the fragments, ``path`` left as it was, the message): a refused file stays for inspection."""
    before = path.read_bytes()
    handled, message = refusal(call, *fragments)
    return handled, path.read_bytes() != before, message


def test_truncated_and_tampered_onnx(bundles: dict[str, Path], tmp_path: Path, fault_report: FaultReport) -> None:
    data = (bundles["onnx"] / "model.onnx").read_bytes()
    truncated = shutil.copytree(bundles["onnx"], tmp_path / "truncated")
    (truncated / "model.onnx").write_bytes(data[: len(data) // 2])
    cases = [  # the bundle (its manifest says the size), then the bare file with no manifest to compare with
        (truncated / "model.onnx", lambda: load(truncated), ("truncated", str(len(data) // 2))),
        (truncated / "model.onnx", lambda: load(truncated / "model.onnx"), ("is not a loadable ONNX model",)),
    ]
    tampered = shutil.copytree(bundles["onnx"], tmp_path / "tampered")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (tampered / "model.onnx").write_bytes(bytes(flipped))
    expected_sha = manifest(bundles["onnx"])["files"]["model.onnx"]["sha256"]
    cases.append((tampered / "model.onnx", lambda: load(tampered), ("sha256 of", expected_sha)))
    for path, call, fragments in cases:
        handled, lost, message = _refused_untouched(path, call, *fragments)
        fault_report.record("bundle: truncated/tampered model file", handled, lost=lost)
        assert handled and not lost, message


def test_corrupted_or_hostile_manifest(bundles: dict[str, Path], tmp_path: Path, fault_report: FaultReport) -> None:
    broken = shutil.copytree(bundles["onnx"], tmp_path / "broken")
    (broken / "bundle.json").write_text("{")
    hostile = shutil.copytree(bundles["onnx"], tmp_path / "hostile")
    m = manifest(hostile)
    m["model_file"] = "../../outside.onnx"
    (hostile / "bundle.json").write_text(json.dumps(m))
    for path, fragment in [
        (broken, "bundle.json is not valid JSON"),
        (hostile, "'../../outside.onnx', which is outside the bundle directory"),
    ]:
        handled, message = refusal(lambda path=path: load(path), fragment)
        fault_report.record("bundle: corrupt or hostile manifest", handled)
        assert handled, message


def test_edited_meta_is_refused(bundles: dict[str, Path], tmp_path: Path, fault_report: FaultReport) -> None:
    # TorchScript: rewrite extra/meta.json inside the archive
    source = bundles["torchscript"] / "model.pt"
    edited_pt = tmp_path / "model.pt"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(edited_pt, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("extra/meta.json"):
                data = data.replace(b'"license":"Apache-2.0"', b'"license":"MIT"')
                assert b'"license":"MIT"' in data
            zout.writestr(item, data)
    # ONNX: edit one metadata_props value
    model = onnx.load(str(bundles["onnx"] / "model.onnx"))
    for prop in model.metadata_props:
        if prop.key == "license":
            prop.value = json.dumps("MIT")
    edited_onnx = tmp_path / "model.onnx"
    onnx.save(model, str(edited_onnx))
    for path in (edited_pt, edited_onnx):
        handled, lost, message = _refused_untouched(
            path, lambda path=path: load(path, trust_code=True), "was changed after export"
        )
        fault_report.record("bundle: meta edited after export", handled, lost=lost)
        assert handled and not lost, message


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize(
    "array, fragment",
    [
        (np.zeros((1, 3, 64, 64), np.float32), "must be uint8"),
        (np.zeros((3, 64, 64), np.uint8), "must have 4 dimensions (batch, 3, height, width), got shape (3, 64, 64)"),
        (np.zeros((1, 4, 64, 64), np.uint8), "must have 3 at axis 1"),
        (np.zeros((1, 1, 64, 64), np.uint8), "must have 3 at axis 1"),
        (np.zeros((0, 3, 64, 64), np.uint8), "empty axis 0"),
    ],
)
def test_wrong_input_is_one_clear_line(
    loaded: dict[str, Any], fmt: str, array: np.ndarray, fragment: str, fault_report: FaultReport
) -> None:
    handled, message = refusal(lambda: loaded[fmt].run(array), fragment, "'images'")
    fault_report.record("bundle: wrong input dtype/rank/channels", handled)
    assert handled, message


def test_predict_image_errors(loaded: dict[str, Any], tmp_path: Path) -> None:
    bundle = loaded["onnx"]
    with pytest.raises(BundleError, match="does not exist"):
        bundle.predict_image(tmp_path / "none.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(BundleError, match="is not an image PIL can read"):
        bundle.predict_image(tmp_path / "notes.txt")


def test_unsupported_formats_are_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"Unknown format 'tflite'; choose from torchscript, onnx, pt2, triton"):
        export_model("efficientnet_lite0", formats="onnx,tflite", out=tmp_path, progress=None)
    with pytest.raises(BundleError, match="--opset 12 is not supported: choose 18 to 23"):
        export_model("efficientnet_lite0", formats="onnx", opset=12, out=tmp_path, progress=None)
    # weights of a task without an exporter, or a format the task cannot have: refused by name with the
    # reason, nothing built or written
    from modelver import Weights

    segmentation = Weights(url="file:///nonexistent.pth", transforms=lambda: None, meta={"task": "segmentation"})
    with pytest.raises(BundleError, match="cannot be exported to onnx: unknown task 'segmentation'"):
        export_model("efficientnet_lite0", weights=segmentation, formats="onnx", out=tmp_path, progress=None)
    with pytest.raises(BundleError, match="cannot be exported to pt2: torch.export cannot capture torchvision's det"):
        export_model("fasterrcnn_resnet50_fpn", formats="torchscript,pt2", out=tmp_path, progress=None)
    untagged = Weights(url="file:///nonexistent.pth", transforms=lambda: None, meta={})
    with pytest.raises(BundleError, match="cannot be exported to pt2: its weights declare no meta\\['task'\\]"):
        export_model("efficientnet_lite0", weights=untagged, formats="pt2", out=tmp_path, progress=None)
    assert list(tmp_path.iterdir()) == []


def test_readme_support_table_is_current() -> None:
    """The README's table and notes are `modelver export --list --markdown`'s output, verbatim."""
    from modelver_export.cli import support_markdown

    readme = (ROOT / "README.md").read_text()
    generated = "\n".join(support_markdown())
    assert generated in readme, "regenerate it: modelver export --list --markdown"
    section = readme.split("### Which builders export to which formats", 1)[1]
    assert section.index(generated) < section.index("\n## "), "the table belongs in its own section"
    rows = [line.strip("|").split("|") for line in generated.split("\n\n")[0].splitlines()[2:]]
    documented = {cells[0].strip(" `"): [c.strip() for c in cells[2:]] for cells in rows}
    for name, _task, support in support_table():
        assert documented.pop(name) == ["yes" if support[f] is None else "no" for f in FORMATS], name
    assert not documented, f"README lists builders that are not registered: {sorted(documented)}"
