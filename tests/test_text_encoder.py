"""The BERT / RoBERTa encoder: Hugging Face checkpoints load strictly, script, ONNX; roberta_base from a seeded Hub cache."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ROOT, subprocess_env
from hf_cache import byte_level_bpe_json, seed_hf_cache
from safetensors.torch import save

from modelver import get_model, get_weight
from modelver.errors import WeightsUnavailableError
from modelver.models.text.encoder import SentenceEmbedding, TextEncoder, from_hf_bert, from_hf_roberta
from modelver.models.text.roberta import RoBERTa_Base_Weights, roberta_base
from modelver.testing import synthetic_state_dict

ROBERTA_REPO = "FacebookAI/roberta-base"
ROBERTA_REV = "e2da8e2f811d1448a5b465c236feacd80ffbac7b"
TINY_ROBERTA = {
    "vocab_size": 300, "hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "max_position_embeddings": 34,
    "type_vocab_size": 1, "pad_token_id": 1, "positions_from_padding": True, "layer_norm_eps": 1e-5,
}
TINY_BERT = {"vocab_size": 100, "hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64, "max_position_embeddings": 40}


def hf_roberta_checkpoint(encoder_state: dict[str, torch.Tensor], dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """What a transformers RobertaForMaskedLM checkpoint holds: ``roberta.`` prefix, LM head, position_ids."""
    hidden = encoder_state["embeddings.word_embeddings.weight"].shape[1]
    vocab = encoder_state["embeddings.word_embeddings.weight"].shape[0]
    positions = encoder_state["embeddings.position_embeddings.weight"].shape[0]
    checkpoint = {f"roberta.{k}": v.to(dtype) for k, v in encoder_state.items()}
    checkpoint.update({
        "roberta.embeddings.position_ids": torch.arange(positions).unsqueeze(0),
        "lm_head.dense.weight": torch.zeros(hidden, hidden, dtype=dtype),
        "lm_head.dense.bias": torch.zeros(hidden, dtype=dtype),
        "lm_head.layer_norm.weight": torch.ones(hidden, dtype=dtype),
        "lm_head.layer_norm.bias": torch.zeros(hidden, dtype=dtype),
        "lm_head.bias": torch.zeros(vocab, dtype=dtype),
    })
    return checkpoint


@pytest.fixture
def seeded_roberta(isolated_caches: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Tensor]:
    """The real roberta-base location in a pre-seeded Hub cache, holding a tiny checkpoint and tokenizer."""
    with torch.device("meta"):
        shapes = TextEncoder(**TINY_ROBERTA)
    checkpoint = hf_roberta_checkpoint(synthetic_state_dict(shapes, seed=3))
    seed_hf_cache(isolated_caches / "hf" / "hub", ROBERTA_REPO, ROBERTA_REV, {
        "model.safetensors": save(checkpoint), "tokenizer.json": byte_level_bpe_json().encode(),
    })
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return checkpoint


def test_roberta_base_loads_the_hub_checkpoint_strictly(seeded_roberta: dict[str, torch.Tensor]) -> None:
    model = roberta_base(weights=RoBERTa_Base_Weights.DEFAULT, **TINY_ROBERTA).eval()
    params = dict(model.state_dict())
    assert set(params) == {k[len("roberta."):] for k in seeded_roberta if k.startswith("roberta.")} - {
        "embeddings.position_ids"
    }
    assert all(torch.equal(params[k], seeded_roberta["roberta." + k]) for k in params)
    assert not any(t.is_meta for t in params.values())

    tokenizer = RoBERTa_Base_Weights.DEFAULT.transforms()
    assert tokenizer.tokens("Hello World!") == ["<s>", "Hello", "ĠWorld", "!", "</s>"]
    with torch.inference_mode():
        hidden = model(**tokenizer("Hello World!"))
    assert hidden.shape == (1, 5, 32) and torch.isfinite(hidden).all()


def test_a_checkpoint_missing_a_tensor_is_refused(isolated_caches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with torch.device("meta"):
        shapes = TextEncoder(**TINY_ROBERTA)
    checkpoint = hf_roberta_checkpoint(synthetic_state_dict(shapes))
    del checkpoint["roberta.encoder.layer.1.output.dense.bias"]
    seed_hf_cache(isolated_caches / "hf" / "hub", ROBERTA_REPO, ROBERTA_REV, {"model.safetensors": save(checkpoint)})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*encoder.layer.1.output.dense.bias"):
        roberta_base(weights="DEFAULT", **TINY_ROBERTA)


def test_roberta_weights_unavailable_offline_say_how_to_get_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="hf download FacebookAI/roberta-base model.safetensors"):
        roberta_base(weights="DEFAULT")


def test_roberta_meta_matches_the_architecture() -> None:
    weights = get_weight("RoBERTa_Base_Weights.DEFAULT")
    with torch.device("meta"):
        model = get_model("roberta_base")
    assert sum(p.numel() for p in model.parameters()) == weights.meta["num_params"] == 124055040
    assert model.max_length == weights.meta["max_length"] == 512
    assert model.hidden_size == weights.meta["embedding_size"] == 768


def test_roberta_positions_count_from_the_padding_index() -> None:
    """fairseq / HF RoBERTa: real tokens at positions pad+1, pad+2, ...; padding at pad."""
    model = TextEncoder(**TINY_ROBERTA).eval()
    emb = model.embeddings
    ids = torch.tensor([[0, 7, 8, 2, 1, 1]])  # <s> x y </s> <pad> <pad>
    positions = torch.tensor([[2, 3, 4, 5, 1, 1]])
    expected = emb.LayerNorm(emb.word_embeddings(ids) + emb.position_embeddings(positions) + emb.token_type_embeddings.weight[0])
    torch.testing.assert_close(emb(ids, torch.zeros_like(ids)), expected)


@pytest.mark.parametrize("config", [TINY_BERT, TINY_ROBERTA], ids=["bert", "roberta"])
def test_padding_does_not_change_the_real_tokens(config: dict[str, Any]) -> None:
    torch.manual_seed(0)
    model = TextEncoder(**config).eval()
    pad = config.get("pad_token_id", 0)
    short = torch.tensor([[3, 11, 12, 4]])
    batch = torch.tensor([[3, 11, 12, 4, pad, pad], [3, 13, 14, 15, 16, 4]])
    mask = (batch != pad).long()
    with torch.inference_mode():
        torch.testing.assert_close(model(batch, mask)[0, :4], model(short)[0], atol=1e-5, rtol=1e-5)


def test_hf_adapters_strip_prefixes_and_drop_what_the_encoder_does_not_use() -> None:
    bert = {"bert.embeddings.position_ids": 0, "bert.pooler.dense.weight": 1, "bert.encoder.layer.0.output.LayerNorm.gamma": 2,
            "bert.encoder.layer.0.output.LayerNorm.beta": 3, "cls.predictions.bias": 4}
    assert from_hf_bert(bert) == {"encoder.layer.0.output.LayerNorm.weight": 2, "encoder.layer.0.output.LayerNorm.bias": 3}
    roberta = {"roberta.embeddings.word_embeddings.weight": 1, "lm_head.decoder.weight": 2, "roberta.pooler.dense.bias": 3}
    assert from_hf_roberta(roberta) == {"embeddings.word_embeddings.weight": 1}


def test_too_long_input_is_a_clear_error() -> None:
    model = TextEncoder(**TINY_ROBERTA)
    with pytest.raises(ValueError, match="33 tokens; this model takes at most 32"):
        model(torch.ones(1, 33, dtype=torch.long))


@pytest.mark.parametrize("cls, config", [(TextEncoder, TINY_ROBERTA), (SentenceEmbedding, TINY_BERT)])
def test_scripted_encoder_gives_the_same_output(cls: type, config: dict[str, Any]) -> None:
    torch.manual_seed(0)
    model = cls(**config).eval()
    ids = torch.randint(5, 100, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated since torch 2.11
        scripted = torch.jit.script(model)
    with torch.inference_mode():
        torch.testing.assert_close(scripted(ids, mask), model(ids, mask))


def test_onnx_export_with_dynamic_batch_and_length(tmp_path: Path) -> None:
    import onnxruntime

    torch.manual_seed(0)
    model = SentenceEmbedding(**TINY_BERT).eval()
    ids = torch.randint(5, 100, (2, 7))
    mask = torch.ones_like(ids)
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("length", max=model.max_length)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, (ids, mask), input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_shapes={"input_ids": dims, "attention_mask": dims}, dynamo=True, verbose=False,
        )
    program.save(str(tmp_path / "encoder.onnx"))
    session = onnxruntime.InferenceSession(str(tmp_path / "encoder.onnx"))
    ids = torch.randint(5, 100, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    (onnx_out,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    with torch.inference_mode():
        torch.testing.assert_close(torch.from_numpy(onnx_out), model(ids, mask), atol=1e-5, rtol=1e-4)


def test_text_encoding_example_on_roberta_base(isolated_caches: Path, tmp_path: Path) -> None:
    """The RFC's demo with the real architecture: a full-size checkpoint (zeros, fp16) under the real Hub location.

    The file is made here (no download is possible), with the real checkpoint's key names
    and shapes; the demo prints meta's num_params and RoBERTa's output shape.
    """
    with torch.device("meta"):
        shapes = roberta_base()
    zeros = {k: torch.zeros(v.shape, dtype=torch.float16) for k, v in shapes.state_dict().items()}
    seed_hf_cache(isolated_caches / "hf" / "hub", ROBERTA_REPO, ROBERTA_REV, {
        "model.safetensors": save(hf_roberta_checkpoint(zeros, torch.float16)),
        "tokenizer.json": byte_level_bpe_json().encode(),
    })
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "text_encoding.py")], cwd=tmp_path, capture_output=True, text=True,
        env=subprocess_env(HF_HUB_OFFLINE="1"), timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "124055040 torch.Size([1, 5, 768])"
