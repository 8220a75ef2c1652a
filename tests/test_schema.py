"""Every registered builder and weights entry follows the schema (torchvision's extended model tests, all domains)."""

from __future__ import annotations

import copy
import inspect
import os
import pickle

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from modelver import get_model_builder, list_models
from modelver._registry import _enum_of
from modelver.errors import ModelverError, WeightsError
from modelver.fingerprint import entries
from modelver.store import fetch
from modelver.store._integrity import sha256_of
from modelver.testing import structure_only, synthetic_weights

ENTRIES = entries()
IDS = [f"{name}/{weights!r}" for name, weights in ENTRIES]

COMMON = {"task", "num_params", "license", "recipe"}  # recipe: torchvision requires it of every entry
MANDATORY = {
    "image_classification": {"categories", "_metrics", "min_size", "_ops", "_file_size", "recipe"},
    "object_detection": {"categories", "_metrics", "min_size", "_ops", "_file_size", "recipe"},
    "sentence_embedding": {"embedding_size", "max_length", "pooling"},
    "text_encoding": {"embedding_size", "max_length"},
    "text_to_mel": {"sample_rate", "n_symbol", "n_mels", "hop_length"},
    "vocoder": {"sample_rate", "n_mels", "hop_length"},
    "text_to_speech": {"sample_rate", "n_symbol", "n_mels", "hop_length"},
}
METRICS = {"image_classification": {"acc@1", "acc@5"}, "object_detection": {"box_map"}}
PERMITTED = {
    "task", "num_params", "license", "categories", "_metrics", "min_size", "_ops", "_file_size", "_docs",
    "recipe", "source", "preprocessing", "supersedes", "superseded_by", "_deprecated", "embedding_size",
    "max_length", "pooling", "normalized", "tokenizer", "sample_rate", "n_symbol", "n_mels", "hop_length",
    "n_fft", "win_length", "f_min", "f_max", "dataset", "epochs", "text", "vocoder", "min_level_db", "n_classes",
    "n_bits", "mu_law", "acoustic_weights", "vocoder_weights",
}


def _structure(name: str, weights: object) -> torch.nn.Module:
    with structure_only():
        return get_model_builder(name)(weights=weights, progress=False)


@pytest.mark.parametrize("name", list_models())
def test_builder_has_weights_enum_with_default_or_is_documented_weightless(name: str) -> None:
    builder = get_model_builder(name)
    params = inspect.signature(builder).parameters
    assert "weights" in params and params["weights"].kind is inspect.Parameter.KEYWORD_ONLY
    enum = _enum_of(builder)
    assert enum is not None, f"{name} has no weights enum (torchvision gives every builder one, maybe empty)"
    if len(enum) == 0:
        assert "Weight-less builder" in (builder.__doc__ or ""), f"{name} has an empty weights enum and does not say why"
        return
    assert "DEFAULT" in enum.__members__
    assert all(member_name.isupper() for member_name in enum.__members__), list(enum.__members__)


@pytest.mark.parametrize("name, weights", ENTRIES, ids=IDS)
def test_meta_keys_per_task(name: str, weights: object) -> None:
    meta = weights.meta
    task = meta.get("task")
    assert task in MANDATORY, f"unknown task {task!r}"
    missing = (COMMON | MANDATORY[task]) - set(meta)
    assert not missing, f"missing meta keys {sorted(missing)}"
    assert not set(meta) - PERMITTED, f"unexpected meta keys {sorted(set(meta) - PERMITTED)}"
    if task in METRICS:
        for dataset, values in meta["_metrics"].items():
            assert METRICS[task] <= set(values), (dataset, values)


@pytest.mark.parametrize("name, weights", ENTRIES, ids=IDS)
def test_num_params_and_head_size(name: str, weights: object) -> None:
    model = _structure(name, weights)
    assert sum(p.numel() for p in model.parameters()) == weights.meta["num_params"]
    categories = weights.meta.get("categories")
    if categories is None:
        return
    if weights.meta["task"] == "object_detection":
        assert model.roi_heads.box_predictor.cls_score.out_features == len(categories)
    else:
        crop = weights.transforms().crop_size
        with torch.device("meta"):
            out = model(torch.empty(1, 3, crop, crop))
        assert out.shape[-1] == len(categories)


@pytest.mark.parametrize(
    "name, weights", [(n, w) for n, w in ENTRIES if "_ops" in w.meta], ids=[i for i, (_, w) in zip(IDS, ENTRIES) if "_ops" in w.meta]
)
def test_gflops_equal_ops(name: str, weights: object) -> None:
    """FLOPs counted with FlopCounterMode (multiply-adds, as torchvision counts) equal meta["_ops"]."""
    if weights.meta["task"] == "object_detection":
        # The count depends on how many proposals reach the box head: with RPN NMS off it is
        # always the 1000 that torchvision counted. NMS needs values: synthetic weights.
        with synthetic_weights(seed=0):
            model = get_model_builder(name)(weights=weights, progress=False, rpn_nms_thresh=1.0).eval()
        inputs: object = [torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(0))]
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(inputs)
    else:
        model = _structure(name, weights).eval()
        crop = weights.transforms().crop_size
        with FlopCounterMode(display=False) as counter, torch.device("meta"):
            model(torch.empty(1, 3, crop, crop))
    assert round(counter.get_total_flops() / 2e9, 3) == weights.meta["_ops"]


@pytest.mark.parametrize("name, weights", ENTRIES, ids=IDS)
def test_file_digest_and_size_where_the_file_is_here(name: str, weights: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        path = fetch(weights, progress=False)
    except WeightsError:
        pytest.skip("the file is not available offline here")
    if weights.sha256:
        assert sha256_of(path) == weights.sha256
    if "_file_size" in weights.meta:
        assert round(os.path.getsize(path) / 2**20, 3) == weights.meta["_file_size"]


@pytest.mark.parametrize("name, weights", ENTRIES, ids=IDS)
def test_transforms_build_and_script(name: str, weights: object) -> None:
    try:
        transform = weights.transforms()
    except WeightsError:
        pytest.skip("the transform's files (a tokenizer) are not available offline here")
    except ModelverError as exc:  # e.g. the phoneme processor needs an optional package
        assert "install" in str(exc)
        return
    if isinstance(transform, torch.nn.Module):
        torch.jit.script(transform)
    else:  # tokenizers (the `tokenizers` library) are not torch modules; they say so
        assert weights.meta["task"] in ("sentence_embedding", "text_encoding"), type(transform)


@pytest.mark.parametrize("name, weights", ENTRIES, ids=IDS)
def test_entries_survive_pickle_and_deepcopy(name: str, weights: object) -> None:
    assert pickle.loads(pickle.dumps(weights)) is weights
    assert copy.deepcopy(weights) is weights
