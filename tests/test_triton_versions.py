"""Triton model repositories with numbered versions: one per weights entry, appended, never rewritten.

The repository is the session's ``lite0_repo`` (``modelver export efficientnet_lite0 --weights
IMAGENET1K_V1,lite0-finetuned.pth --format triton``); tests that add to it work on a copy.
Every ``config.pbtxt`` is parsed with Triton's own ``model_config`` protobuf (tritonclient).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from export_helpers import finetuned_lite0
from modelver_export import export_model
from modelver_export._bundle import sha256_file
from modelver_export.runtime import load
from modelver_export.runtime.engine_choice import available_engines
from modelver_export.serve import discover

from modelver.cli import main
from modelver.errors import BundleError
from modelver.models.efficientnet_lite import EfficientNet_Lite0_Weights, EfficientNetLite

MODEL = "efficientnet_lite0"
ENGINES = available_engines()
WEIGHTS = EfficientNet_Lite0_Weights.DEFAULT


def triton_config(model_dir: Path) -> object:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse((model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path → sha256): what 'byte-for-byte untouched' compares."""
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def repo_copy(lite0_repo: Path, tmp_path: Path) -> Path:
    """A copy of the session's repository (``DIR/triton``) inside ``DIR``, to add versions to."""
    shutil.copytree(lite0_repo, tmp_path / "triton")
    return tmp_path


def test_two_entries_are_versions_1_and_2(lite0_repo: Path) -> None:
    from tritonclient.grpc import model_config_pb2

    model_dir = lite0_repo / MODEL
    assert sorted(p.name for p in model_dir.iterdir() if p.is_dir()) == ["1", "2"]
    config = triton_config(model_dir)
    assert config.name == MODEL and config.backend == "onnxruntime" and config.HasField("dynamic_batching")
    assert config.version_policy.WhichOneof("policy_choice") == "all"  # Triton serves every number
    (inp,) = config.input
    assert (inp.name, inp.data_type, list(inp.dims)) == ("images", model_config_pb2.TYPE_UINT8, [3, -1, -1])
    (out,) = config.output
    assert (out.name, out.dims, out.label_filename) == ("probabilities", [1000], "labels.txt")
    assert (model_dir / "labels.txt").read_text().splitlines() == WEIGHTS.meta["categories"]

    table = json.loads((model_dir / "versions.json").read_text())
    assert (table["model"], table["default"], sorted(table["versions"])) == (MODEL, 2, ["1", "2"])
    names = {number: entry["name"] for number, entry in table["versions"].items()}
    assert names == {"1": "IMAGENET1K_V1", "2": "lite0-finetuned"}
    for number, entry in table["versions"].items():
        bundle = load(model_dir / number)  # each version folder is a bundle, checked against its own manifest
        assert entry["sha256"] == sha256_file(model_dir / number / "model.onnx")
        assert entry["meta"] == bundle.meta and entry["weights"] == bundle.meta["weights"]
        assert bundle.manifest["parity"]["passed"]  # checked against eager before it became a version
        assert sorted(p.name for p in (model_dir / number).iterdir()) == ["bundle.json", "model.onnx"]
    assert table["versions"]["1"]["weights"] == repr(WEIGHTS)
    assert table["versions"]["2"]["source_sha256"] == sha256_file(lite0_repo.parent / "lite0-finetuned.pth")
    # the versions really differ, and the model directory itself loads the newest
    photo = lite0_repo.parent / "cat.png"
    from modelver.predict import sample_image

    sample_image("chelsea").save(photo)
    tops = [load(model_dir / n).predict_image(photo, 3) for n in ("1", "2")]
    assert tops[0] != tops[1]
    assert (
        load(model_dir).predict_image(photo, 3) == tops[1] and load(model_dir).manifest["model_file"] == "2/model.onnx"
    )
    assert not list(lite0_repo.parent.glob(".staging-*"))  # nothing left of the staging directories


def test_another_entry_is_appended_and_existing_versions_never_change(repo_copy: Path) -> None:
    model_dir = repo_copy / "triton" / MODEL
    before = snapshot(model_dir)
    again = export_model(MODEL, weights="IMAGENET1K_V1", formats="triton", out=repo_copy, check=False, progress=None)
    assert [(r.version, r.path) for r in again] == [(1, model_dir)]  # already version 1: nothing rebuilt or written
    assert snapshot(model_dir) == before

    checkpoint = finetuned_lite0(repo_copy, seed=2, name="lite0-finetuned-b")
    code = main(
        ["export", MODEL, "--weights", str(checkpoint), "--format", "triton", "--out", str(repo_copy), "--no-check"]
    )
    assert code == 0
    after = snapshot(model_dir)
    for path, digest in before.items():
        if path.startswith(("1/", "2/")):
            assert after[path] == digest, path  # byte for byte
    assert {p for p in after if p.startswith(("1/", "2/"))} == {p for p in before if p.startswith(("1/", "2/"))}
    table = json.loads((model_dir / "versions.json").read_text())
    assert (table["default"], table["versions"]["3"]["name"]) == (3, "lite0-finetuned-b")
    assert triton_config(model_dir).version_policy.WhichOneof("policy_choice") == "all"
    assert [v.number for v in discover([repo_copy / "triton"])[MODEL].versions.values()] == [1, 2, 3]


def _ten_classes(directory: Path) -> object:
    """An entry with another head: 10 categories (a user's model fine-tuned on another task)."""
    path = directory / "lite0-ten.pth"
    torch.save(EfficientNetLite(num_classes=10).state_dict(), path)
    meta = {**WEIGHTS.meta, "categories": [f"class {i}" for i in range(10)]}
    return dataclasses.replace(
        WEIGHTS.value, url=path.as_uri(), sha256=sha256_file(path), meta=meta, state_dict_adapter=None
    )


def test_entries_whose_outputs_differ_cannot_share_a_model(repo_copy: Path) -> None:
    ten = _ten_classes(repo_copy)
    with pytest.raises(BundleError, match=r"different categories: they cannot be versions of one Triton model") as info:
        export_model(MODEL, weights=[WEIGHTS, ten], formats="triton", out=repo_copy / "new", progress=None)
    assert "\n" not in str(info.value) and not (repo_copy / "new").exists()  # refused before anything was built

    model_dir = repo_copy / "triton" / MODEL
    before = snapshot(model_dir)
    with pytest.raises(BundleError, match=r"outputs and categories differ from version 2's") as info:
        export_model(MODEL, weights=ten, formats="triton", out=repo_copy, check=False, progress=None)
    message = str(info.value)
    assert "(batch, 10)" in message and "(batch, 1000)" in message and "--out" in message
    assert snapshot(model_dir) == before and not list(repo_copy.glob(".staging-*"))


def test_several_entries_need_a_versioned_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["export", MODEL, "--weights", "IMAGENET1K_V1,IMAGENET1K_V1", "--format", "triton", "--out", str(tmp_path)]
    )
    assert code == 1 and "names the same entry twice" in capsys.readouterr().err
    code = main(
        ["export", MODEL, "--weights", "IMAGENET1K_V1,x.pth", "--format", "onnx,triton", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "onnx bundles do not hold" in err and "triton" in err
    assert not any(tmp_path.iterdir())


def test_a_folder_that_is_not_a_versioned_model_is_never_overwritten(tmp_path: Path) -> None:
    stranger = tmp_path / "triton" / MODEL
    stranger.mkdir(parents=True)
    (stranger / "config.pbtxt").write_text('name: "mine"\n')
    with pytest.raises(BundleError, match="is not a versioned modelver Triton model directory"):
        export_model(MODEL, weights="IMAGENET1K_V1", formats="triton", out=tmp_path, check=False, progress=None)
    assert [p.name for p in stranger.iterdir()] == ["config.pbtxt"]


def test_an_int8_export_is_a_new_version_that_triton_and_serving_take(repo_copy: Path) -> None:
    """``--quantize int8`` of an entry that is already version 1 (FP32) appends version 3; nothing else changes."""
    import onnx
    from skimage import data

    model_dir = repo_copy / "triton" / MODEL
    before = snapshot(model_dir)
    assert main(["export", MODEL, "--format", "triton", "--quantize", "int8", "--out", str(repo_copy)]) == 0
    after = snapshot(model_dir)
    assert {p: d for p, d in after.items() if p.startswith(("1/", "2/"))} == {
        p: d for p, d in before.items() if p.startswith(("1/", "2/"))
    }
    table = json.loads((model_dir / "versions.json").read_text())
    int8 = table["versions"]["3"]
    assert (table["default"], int8["name"], int8["weights"]) == (3, "IMAGENET1K_V1-int8", repr(WEIGHTS))
    quantization = int8["meta"]["quantization"]
    assert quantization["precision"] == "int8"
    assert quantization["derived_from"]["weights_sha256"] == table["versions"]["1"]["source_sha256"]

    config = triton_config(model_dir)  # one config still serves every version: same tensors
    assert config.version_policy.WhichOneof("policy_choice") == "all" and config.backend == "onnxruntime"
    assert [(i.name, list(i.dims)) for i in config.input] == [("images", [3, -1, -1])]
    graph = onnx.load(str(model_dir / "3" / "model.onnx")).graph
    assert sum(node.op_type == "QuantizeLinear" for node in graph.node) > 40  # the file Triton loads is INT8
    for engine in ENGINES:
        bundle = load(model_dir / "3", engine=engine)  # what Triton's onnxruntime backend and `serve` run
        assert bundle.manifest["agreement"]["passed"]
        assert bundle.predict_image(data.coffee(), 1)[0][0] == "espresso"
    assert [v.number for v in discover([repo_copy / "triton"])[MODEL].versions.values()] == [1, 2, 3]
    both = discover([model_dir / "1", model_dir / "3"])[MODEL]  # two bundles of one entry: two versions to serve
    assert both.labels == ["IMAGENET1K_V1", "IMAGENET1K_V1-int8"]

    # the same INT8 export again is the same version: nothing is added or rewritten
    assert main(["export", MODEL, "--format", "triton", "--quantize", "int8", "--out", str(repo_copy)]) == 0
    assert snapshot(model_dir) == after
