"""Text bundles in every format: MiniLM-L6 (real weights), RoBERTa and a classifier (tiny, synthetic weights).

Each builder is exported once per module to every format it supports; the tests read the
manifests, run the bundles through the runtime (the ONNX one where torch cannot be imported)
and compare them with eager.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import onnx
import pytest
import torch
from export_helpers import blocked_python, one_line, parity_cases
from hf_cache import byte_level_bpe_json, seed_hf_cache
from modelver_export import export_model
from modelver_export._bundle import sha256_file
from modelver_export.registry import format_names, support
from modelver_export.runtime import describe_run, load
from modelver_export.tasks.text import SENTENCES

from modelver import Weights
from modelver.errors import BundleError
from modelver.models.text.encoder import SentenceEmbedding, TextClassifier
from modelver.models.text.minilm import MiniLM_L6_Weights, minilm_l6
from modelver.models.text.roberta import RoBERTa_Base_Weights, roberta_base
from modelver.testing import synthetic_state_dict, synthetic_weights

#: all-MiniLM-L6-v2's published cosine similarities of SENTENCES (0-1, 0-2, 1-2)
PUBLISHED = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}
ROBERTA_REPO, ROBERTA_REV = "FacebookAI/roberta-base", "e2da8e2f811d1448a5b465c236feacd80ffbac7b"
TINY_ROBERTA = {
    "vocab_size": 300, "hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "max_position_embeddings": 66,
    "type_vocab_size": 1, "pad_token_id": 1, "positions_from_padding": True, "layer_norm_eps": 1e-5,
}
# MiniLM's vocabulary (its tokenizer.json), a tiny encoder
TINY_BERT = {
    "vocab_size": 30522, "hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "max_position_embeddings": 40
}
CATEGORIES = ["negative", "neutral", "positive"]


@dataclasses.dataclass
class Exported:
    name: str
    model: torch.nn.Module
    weights: Any
    bundles: dict[str, Path]
    output: str
    tokenizer: Any  # weights.transforms(), made while the seeded Hub cache was active

    def eager(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            out = self.model(torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"]))
        return (out.softmax(-1) if self.output == "probabilities" else out).numpy()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """roberta-base's revision in a seeded Hub cache (its tokenizer only: the weights are synthetic)."""
    cache = tmp_path_factory.mktemp("hf") / "hub"
    tokenizer = byte_level_bpe_json([*SENTENCES, "Hello there, World."])
    seed_hf_cache(cache, ROBERTA_REPO, ROBERTA_REV, {"tokenizer.json": tokenizer.encode()})
    return cache


@contextlib.contextmanager
def offline(hub: Path) -> Iterator[None]:
    """No Hub: MiniLM's files from its package mirror, roberta-base's from the seeded cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_HUB_CACHE", str(hub))
        yield


def _export(name: str, model: torch.nn.Module, weights: Any, out: Path, output: str, hub: Path) -> Exported:
    task = weights.meta["task"]
    supported = [f for f, reason in support(task).items() if reason is None]
    assert supported == list(format_names()), task  # every text task exports to every format
    with offline(hub):
        results = export_model(name, weights=weights, formats="all", out=out, model=model, progress=None)
        tokenizer = weights.transforms()
    return Exported(name, model, weights, {r.format: r.path for r in results}, output, tokenizer)


@pytest.fixture(scope="module")
def minilm(hub: Path, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    weights = MiniLM_L6_Weights.DEFAULT
    with offline(hub):
        model = minilm_l6(weights=weights, progress=False).eval()
    return _export("minilm_l6", model, weights, tmp_path_factory.mktemp("minilm"), "embeddings", hub)


@pytest.fixture(scope="module")
def roberta(hub: Path, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    weights = RoBERTa_Base_Weights.DEFAULT
    with synthetic_weights(seed=3):
        model = roberta_base(weights=weights, **TINY_ROBERTA).eval()
    return _export("roberta_base", model, weights, tmp_path_factory.mktemp("roberta"), "last_hidden_state", hub)


@pytest.fixture(scope="module")
def classifier(hub: Path, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """A classifier checkpoint described by a custom Weights (the builder has no enum), on MiniLM's tokenizer."""
    weights = Weights(
        url="file:///nonexistent/sentiment.pth",
        transforms=MiniLM_L6_Weights.DEFAULT.transforms,
        meta={"task": "text_classification", "categories": CATEGORIES, "license": "apache-2.0"},
    )
    model = TextClassifier(SentenceEmbedding(**TINY_BERT), num_classes=len(CATEGORIES))
    model.load_state_dict(synthetic_state_dict(model, seed=4))
    out = tmp_path_factory.mktemp("classifier")
    return _export("minilm_l6_classifier", model.eval(), weights, out, "probabilities", hub)


#: builder → the fixture that exports it; every text task exports to every format
FIXTURES = {"minilm_l6": "minilm", "roberta_base": "roberta", "minilm_l6_classifier": "classifier"}
PARITY = parity_cases({name: format_names() for name in FIXTURES})


def _exported(request: pytest.FixtureRequest, name: str) -> Exported:
    return request.getfixturevalue(FIXTURES[name])


def manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "bundle.json").read_text())


@pytest.mark.parametrize(("name", "fmt"), PARITY)
def test_parity_report_manifest_and_tokenizer(request: pytest.FixtureRequest, name: str, fmt: str) -> None:
    exported = _exported(request, name)
    path = exported.bundles[fmt]
    m = manifest(path)
    assert m["format"] == fmt and m["task"] == exported.weights.meta["task"]
    assert "tokenizer.json" in m["files"] and (path / "tokenizer.json").read_bytes() == (
        exported.tokenizer.path.read_bytes()
    )
    for file, entry in m["files"].items():
        assert sha256_file(path / file) == entry["sha256"]
    assert [(s["name"], s["dtype"], s["shape"]) for s in m["inputs"]] == [
        ("input_ids", "int64", ["batch", "sequence"]),
        ("attention_mask", "int64", ["batch", "sequence"]),
    ]
    assert m["outputs"][0]["name"] == exported.output
    tokenization = m["meta"]["tokenization"]
    assert tokenization["max_length"] == exported.tokenizer.max_length
    parity = m["parity"]
    assert parity["checked"] and parity["passed"], parity
    first, *random = parity["cases"]
    assert first["case"].startswith("the sample sentences") and first["checks"]["passed"]
    assert "vs weights.transforms()" in first["checks"]["check"]
    assert len(random) == 2 and len({c["case"].split("input_ids ")[1].split(")")[0] for c in parity["cases"]}) == 3
    for case in parity["cases"]:
        out = case["outputs"][exported.output]
        assert out["passed"] and out["atol"] == 1e-4 and out["max_abs"] <= 1e-4
        assert ("top1_agree" in out) == (exported.output == "probabilities")


@pytest.mark.parametrize(("name", "fmt"), PARITY)
def test_bundle_matches_eager_on_new_sizes(request: pytest.FixtureRequest, name: str, fmt: str) -> None:
    exported = _exported(request, name)
    bundle = load(exported.bundles[fmt], trust_code=True)
    rng = np.random.default_rng(11)
    limit = bundle.inputs[0]["max"]["sequence"]
    for batch, length in ((5, min(31, limit)), (1, 3)):
        ids = rng.integers(5, bundle.inputs[0]["range"][1] + 1, (batch, length))
        mask = np.ones_like(ids)
        mask[0, length // 2 :] = 0  # some padding in the first row
        ids[0, length // 2 :] = bundle.meta["tokenization"]["pad_id"]
        inputs = {"input_ids": ids, "attention_mask": mask}
        np.testing.assert_allclose(bundle.run(inputs)[exported.output], exported.eager(inputs), rtol=0, atol=1e-4)
    texts = ["A short one.", "Exported models keep their tokenizer with them."]
    expected = exported.eager({k: v.numpy() for k, v in exported.tokenizer(texts).items()})
    np.testing.assert_allclose(bundle.run_text(texts)[exported.output], expected, rtol=0, atol=1e-4)


def test_onnx_bundle_reproduces_published_similarities_without_torch(minilm: Exported, tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np, modelver_export.runtime as rt\n"
        f"b = rt.load({str(minilm.bundles['onnx'])!r})\n"
        f"e = b.embed({list(SENTENCES)!r})\n"
        "s = e @ e.T\n"
        "print(f'{s[0, 1]:.6f} {s[0, 2]:.6f} {s[1, 2]:.6f} {np.linalg.norm(e, axis=1).min():.6f}')\n"
        "assert not any(m.split('.')[0] == 'torch' for m in sys.modules), 'torch was imported'\n"
    )
    result = blocked_python(code, "torch", "torchvision", "torchaudio", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    *similarities, norm = (float(v) for v in result.stdout.split())
    for (pair, published), got in zip(PUBLISHED.items(), similarities):
        assert round(got, 3) == round(published, 3), (pair, got)
    assert abs(norm - 1.0) < 1e-5
    eager = minilm.eager({k: v.numpy() for k, v in minilm.tokenizer(list(SENTENCES)).items()})
    np.testing.assert_allclose(similarities, [(eager @ eager.T)[i, j] for i, j in PUBLISHED], atol=1e-5)


def test_onnx_file_has_dynamic_batch_and_sequence_and_carries_meta(minilm: Exported) -> None:
    model = onnx.load(str(minilm.bundles["onnx"] / "model.onnx"))
    for value in model.graph.input:
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        assert len(dims) == 2 and all(isinstance(d, str) for d in dims), (value.name, dims)
    (out,) = model.graph.output
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim][1] == 384
    props = {p.key: json.loads(p.value) for p in model.metadata_props if p.key != "modelver.meta_sha256"}
    assert props["weights"] == "MiniLM_L6_Weights.ALL_MINILM_L6_V2" and props["tokenization"]["pad_token"] == "[PAD]"
    assert "tokenize with the `tokenizer.json`" in model.doc_string


def test_triton_configs_validate(minilm: Exported, classifier: Exported) -> None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    for exported, dims, labels in ((minilm, [384], ""), (classifier, [len(CATEGORIES)], "labels.txt")):
        model_dir = exported.bundles["triton"]
        config = text_format.Parse((model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
        assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [
            ("input_ids", model_config_pb2.TYPE_INT64, [-1]),
            ("attention_mask", model_config_pb2.TYPE_INT64, [-1]),
        ]
        (out,) = config.output
        assert (out.name, out.data_type, list(out.dims), out.label_filename) == (
            exported.output, model_config_pb2.TYPE_FP32, dims, labels
        )
        assert (model_dir / "tokenizer.json").is_file()
    assert (classifier.bundles["triton"] / "labels.txt").read_text().splitlines() == CATEGORIES


def test_classify_text_and_the_run_command(classifier: Exported, minilm: Exported) -> None:
    bundle = load(classifier.bundles["torchscript"], trust_code=True)
    top = bundle.classify_text(["Great!", "Awful."], topk=2)
    probs = classifier.eager({k: v.numpy() for k, v in classifier.tokenizer(["Great!", "Awful."]).items()})
    for row, expected in zip(top, probs):
        assert [label for label, _ in row] == [CATEGORIES[i] for i in np.argsort(-expected)[:2]]
        np.testing.assert_allclose([p for _, p in row], np.sort(expected)[::-1][:2], atol=1e-4)
    lines = describe_run(load(minilm.bundles["onnx"]), list(SENTENCES))
    assert lines[0].startswith("minilm_l6 (MiniLM_L6_Weights.ALL_MINILM_L6_V2), onnx bundle on onnxruntime")
    assert lines[5].split()[1:] == ["1.0000", "0.6660", "0.1046"]


def test_text_input_errors_are_one_clear_line(minilm: Exported, roberta: Exported, tmp_path: Path) -> None:
    bundle = load(minilm.bundles["onnx"])
    ids = np.full((1, 4), 1000, dtype=np.int64)
    mask = np.ones_like(ids)
    cases = [
        ({"input_ids": ids.astype(np.int32), "attention_mask": mask}, "must be int64"),
        ({"input_ids": np.full((1, 513), 1000), "attention_mask": np.ones((1, 513), np.int64)},
         "has 513 along 'sequence'; this model takes at most 512"),
        ({"input_ids": ids + 40000, "attention_mask": mask}, "must hold values from 0 to 30521, got 41000 to 41000"),
        ({"input_ids": ids, "attention_mask": np.ones((1, 5), np.int64)}, "must have the same shape"),
    ]
    for inputs, fragment in cases:
        with pytest.raises(BundleError) as exc:
            bundle.run(inputs)
        assert fragment in one_line(exc)
    with pytest.raises(BundleError) as exc:
        bundle.run({"input_ids": ids, "attention_mask": mask}, seed=0)
    assert "runs on onnxruntime and draws no random numbers" in one_line(exc)
    with pytest.raises(BundleError, match="embed needs a sentence_embedding bundle; this one is 'text_encoding'"):
        load(roberta.bundles["onnx"]).embed("text")
    copy = shutil.copytree(minilm.bundles["onnx"], tmp_path / "copy")
    (copy / "tokenizer.json").unlink()
    with pytest.raises(BundleError) as exc:
        load(copy, verify=False).embed("text")
    assert "tokenizer.json is missing: text bundles need the tokenizer.json" in one_line(exc)
