"""Text and audio builders on the same API as vision: registry, weights schema, legacy, cheap listing."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import torch
from conftest import subprocess_env

import modelver
from modelver import get_model, get_model_builder, get_model_weights, get_weight, list_models
from modelver.errors import UnknownWeightsError

TEXT = ["minilm_l6", "minilm_l6_classifier", "roberta_base"]
AUDIO = ["tacotron2", "tts_tacotron2_wavernn", "wavernn"]
# Builders without a released checkpoint of their own (they compose a pretrained backbone): empty enum.
NO_RELEASE = {"minilm_l6_classifier"}
REQUIRED_META = {
    "sentence_embedding": {"embedding_size", "max_length", "pooling"},
    "text_encoding": {"embedding_size", "max_length"},
    "text_to_mel": {"sample_rate", "n_symbol", "n_mels", "hop_length"},
    "vocoder": {"sample_rate", "n_mels", "hop_length"},
    "text_to_speech": {"sample_rate", "n_symbol", "hop_length"},
}


def test_text_and_audio_builders_are_listed_by_package() -> None:
    assert list_models(module="modelver.models.text") == TEXT
    assert list_models(module="modelver.models.audio") == AUDIO
    assert set(TEXT + AUDIO) <= set(list_models())


@pytest.mark.parametrize("name", sorted(set(TEXT + AUDIO) - NO_RELEASE))
def test_weights_schema(name: str) -> None:
    enum = get_model_weights(name)
    assert "DEFAULT" in enum.__members__
    for entry in enum:
        assert entry.name.isupper(), entry
        meta = entry.meta
        assert {"task", "num_params", "license"} <= meta.keys(), entry
        assert REQUIRED_META[meta["task"]] <= meta.keys(), entry
        assert isinstance(meta["num_params"], int) and meta["num_params"] > 0
        assert not entry.sha256 or len(entry.sha256) == 64
        assert get_weight(f"{enum.__name__}.{entry.name}") is entry
        assert callable(entry.transforms)


def test_classifier_has_no_release_of_its_own() -> None:
    enum = get_model_weights("minilm_l6_classifier")  # torchvision: every builder has an enum, maybe empty
    assert enum.__name__ == "MiniLM_L6_Classifier_Weights" and len(enum) == 0 and list(enum) == []
    with pytest.raises(UnknownWeightsError, match="MiniLM_L6_Classifier_Weights has no entries"):
        get_weight("MiniLM_L6_Classifier_Weights.DEFAULT")


@pytest.mark.parametrize(
    "name, config, check",
    [
        ("roberta_base", {"num_layers": 1}, lambda m: len(m.encoder.layer) == 1),
        ("minilm_l6", {}, lambda m: m.hidden_size == 384),
        ("tacotron2", {"decoder_max_step": 7}, lambda m: m.decoder.decoder_max_step == 7),
        ("wavernn", {}, lambda m: m.hop_length == 275),
        ("tts_tacotron2_wavernn", {}, lambda m: m.sample_rate == 22050),
    ],
)
def test_get_model_builds_without_weights(name: str, config: dict[str, Any], check: Any) -> None:
    with torch.device("meta"):
        assert check(get_model(name, **config))


@pytest.mark.parametrize("name", ["roberta_base", "tacotron2", "wavernn", "tts_tacotron2_wavernn"])
def test_legacy_pretrained_false_builds_random_with_a_warning(name: str) -> None:
    with pytest.warns(UserWarning) as record, torch.device("meta"):
        get_model_builder(name)(pretrained=False)
    messages = " | ".join(str(w.message) for w in record)
    assert "'pretrained' is deprecated" in messages and "equivalent to passing `weights=None`" in messages


def test_names_are_verified_like_vision_ones() -> None:
    with pytest.raises(UnknownWeightsError, match="Did you mean 'CHAR_LJSPEECH'"):
        get_weight("Tacotron2_Weights.CHAR_LJSPEECh")
    with pytest.raises(TypeError, match="expected WaveRNN_Weights but received Tacotron2_Weights"):
        modelver.models.wavernn(weights=get_weight("Tacotron2_Weights.DEFAULT"))


LAZY_CHECK = """
import sys, modelver
for name in ('MiniLM_L6_Weights.DEFAULT', 'RoBERTa_Base_Weights.DEFAULT', 'TTS_Tacotron2_WaveRNN_Weights.DEFAULT',
             'Tacotron2_Weights.DEFAULT', 'WaveRNN_Weights.DEFAULT'):
    modelver.get_weight(name).meta
for name in ('minilm_l6_classifier', 'tts_tacotron2_wavernn'):
    modelver.get_model_builder(name)
heavy = [m for m in ('torchaudio', 'tokenizers', 'huggingface_hub', 'torchvision', 'safetensors') if m in sys.modules]
assert not heavy, heavy
print('ok')
"""


def test_text_and_audio_weights_import_nothing_heavy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LAZY_CHECK], capture_output=True, text=True, env=subprocess_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_cli_lists_and_describes_them() -> None:
    # In-process: `modelver list` / `info` print from the manifest and the entries' meta.
    import contextlib
    import io

    from modelver.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["list"]) == 0
        assert main(["info", "tts_tacotron2_wavernn"]) == 0
    text = out.getvalue()
    assert all(name in text.split() for name in TEXT + AUDIO)
    assert "TTS_Tacotron2_WaveRNN_Weights.CHAR_LJSPEECH  (DEFAULT)" in text
    assert "vocoder_weights: WaveRNN_Weights.LJSPEECH_8BITS" in text


def test_embed_refuses_a_model_that_does_not_embed_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    from modelver.cli import main

    assert main(["embed", "--model", "roberta_base", "a sentence"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        ("modelver: error: `modelver embed` needs a sentence-embedding model; roberta_base is a text_encoding "
        "model. Try --model minilm_l6.")
    ]
