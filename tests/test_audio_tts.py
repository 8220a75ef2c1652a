"""Tacotron2 + WaveRNN text-to-speech: torchaudio's releases, the text processor, the chain end to end.

No weights can be downloaded here. torchaudio publishes neither a sha256 nor a hash prefix
in its file names, so the store cannot tell a stand-in from the real file: the tests serve
seeded synthetic checkpoints (right keys and shapes, random values) from a loopback server
under the real URL paths (``MODELVER_MIRROR``), and check everything but the sound itself.
"""

from __future__ import annotations

import io
import subprocess
import sys
import urllib.parse
import warnings
import wave
from pathlib import Path
from typing import Iterator

import pytest
import torch
from conftest import ROOT, subprocess_env
from http_server import FileServer

from modelver import get_model, get_weight
from modelver.errors import ModelverError
from modelver.models.audio.processing import CHARACTERS, CharacterProcessor, NormalizeMel
from modelver.models.audio.tacotron2 import TACOTRON2_PARAMS, Tacotron2_Weights, tacotron2
from modelver.models.audio.tts import TTS_Tacotron2_WaveRNN_Weights, tts_tacotron2_wavernn
from modelver.models.audio.wav import write_wav
from modelver.models.audio.wavernn import WAVERNN_PARAMS, WaveRNN_Weights, wavernn
from modelver.testing import synthetic_state_dict

TTS = TTS_Tacotron2_WaveRNN_Weights.DEFAULT
MAX_STEPS = 3  # mel frames: keeps WaveRNN's sample-by-sample generation to < 1000 samples


def _path(url: str) -> str:
    return urllib.parse.urlparse(url).path


@pytest.fixture(scope="module")
def stand_ins() -> dict[str, dict[str, torch.Tensor]]:
    """Seeded synthetic checkpoints for the character Tacotron2 and the WaveRNN release."""
    with torch.device("meta"):
        acoustic, vocoder = tacotron2(), wavernn()
    return {"tacotron2": synthetic_state_dict(acoustic, seed=1), "wavernn": synthetic_state_dict(vocoder, seed=2)}


@pytest.fixture(scope="module")
def release_server(stand_ins: dict[str, dict[str, torch.Tensor]]) -> Iterator[FileServer]:
    with FileServer() as server:
        for entry, state in ((Tacotron2_Weights.CHAR_WAVERNN_LJSPEECH, stand_ins["tacotron2"]),
                             (WaveRNN_Weights.LJSPEECH_8BITS, stand_ins["wavernn"])):
            buffer = io.BytesIO()
            torch.save(state, buffer)
            server.files[_path(entry.url)] = buffer.getvalue()
        yield server


@pytest.fixture
def mirror(release_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> FileServer:
    monkeypatch.setenv("MODELVER_MIRROR", release_server.base)
    return release_server


def test_entries_are_torchaudios_published_files_and_parameters() -> None:
    import torchaudio
    from torchaudio.pipelines._tts.impl import _BASE_URL

    bundles = {
        Tacotron2_Weights.CHAR_WAVERNN_LJSPEECH: torchaudio.pipelines.TACOTRON2_WAVERNN_CHAR_LJSPEECH,
        Tacotron2_Weights.PHONE_WAVERNN_LJSPEECH: torchaudio.pipelines.TACOTRON2_WAVERNN_PHONE_LJSPEECH,
        Tacotron2_Weights.CHAR_LJSPEECH: torchaudio.pipelines.TACOTRON2_GRIFFINLIM_CHAR_LJSPEECH,
        Tacotron2_Weights.PHONE_LJSPEECH: torchaudio.pipelines.TACOTRON2_GRIFFINLIM_PHONE_LJSPEECH,
    }
    for entry, bundle in bundles.items():
        assert entry.url == f"{_BASE_URL}/{bundle._tacotron2_path}"
        assert {**TACOTRON2_PARAMS, "n_symbol": entry.meta["n_symbol"]} == bundle._tacotron2_params
    wavernn_bundle = torchaudio.pipelines.TACOTRON2_WAVERNN_CHAR_LJSPEECH
    assert WaveRNN_Weights.LJSPEECH_8BITS.url == f"{_BASE_URL}/{wavernn_bundle._wavernn_path}"
    assert WAVERNN_PARAMS == wavernn_bundle._wavernn_params
    assert WaveRNN_Weights.LJSPEECH_8BITS.meta["hop_length"] == 5 * 5 * 11


def test_num_params_in_meta_are_the_models() -> None:
    for enum in (Tacotron2_Weights, WaveRNN_Weights, TTS_Tacotron2_WaveRNN_Weights):
        builder = {Tacotron2_Weights: tacotron2, WaveRNN_Weights: wavernn}.get(enum, tts_tacotron2_wavernn)
        for entry in enum:
            with torch.device("meta"):
                model = builder(**({"n_symbol": entry.meta["n_symbol"]} if "n_symbol" in entry.meta else {}))
            assert sum(p.numel() for p in model.parameters()) == entry.meta["num_params"], entry


@pytest.mark.parametrize("texts", ["Hello world!", ["Hello, T T S!", "Numbers 42 & symbols #% are DROPPED."]])
def test_character_processor_is_torchaudios(texts: str | list[str]) -> None:
    import torchaudio

    reference = torchaudio.pipelines.TACOTRON2_WAVERNN_CHAR_LJSPEECH.get_text_processor()
    ours = TTS.transforms()
    assert ours.tokens == list(reference.tokens) == list(CHARACTERS)
    (ids, lengths), (ref_ids, ref_lengths) = ours(texts), reference(texts)
    assert torch.equal(ids, ref_ids) and torch.equal(lengths, ref_lengths)
    assert ids.dtype == ref_ids.dtype and lengths.dtype == ref_lengths.dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(ours)
    script_ids, script_lengths = scripted(texts)
    assert torch.equal(script_ids, ids) and torch.equal(script_lengths, lengths)


def test_text_without_known_characters_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no character of the symbol table"):
        CharacterProcessor()("123#%")


def test_phoneme_entries_say_what_to_install() -> None:
    try:
        import dp  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("DeepPhonemizer is installed")
    for entry in (Tacotron2_Weights.PHONE_WAVERNN_LJSPEECH, TTS_Tacotron2_WaveRNN_Weights.PHONE_LJSPEECH):
        assert entry.meta["n_symbol"] == 96
        with pytest.raises(ModelverError, match=r"pip install deep-phonemizer"):
            entry.transforms()


def test_builders_load_the_served_release(mirror: FileServer, stand_ins: dict[str, dict[str, torch.Tensor]]) -> None:
    acoustic = tacotron2(weights="DEFAULT", progress=False)
    vocoder = wavernn(weights=WaveRNN_Weights.LJSPEECH_8BITS, progress=False)
    for model, state in ((acoustic, stand_ins["tacotron2"]), (vocoder, stand_ins["wavernn"])):
        assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    assert mirror.requests[_path(Tacotron2_Weights.DEFAULT.url)] == 1


def test_pipeline_entry_reproduces_the_whole_chain(mirror: FileServer, stand_ins: dict[str, dict[str, torch.Tensor]]) -> None:
    assert get_weight("TTS_Tacotron2_WaveRNN_Weights.DEFAULT") is TTS_Tacotron2_WaveRNN_Weights.CHAR_LJSPEECH
    assert TTS.meta["acoustic_weights"] == "Tacotron2_Weights.CHAR_WAVERNN_LJSPEECH"
    assert TTS.meta["vocoder_weights"] == "WaveRNN_Weights.LJSPEECH_8BITS"
    state = TTS.get_state_dict(progress=False)
    assert state.keys() == {f"tacotron2.{k}" for k in stand_ins["tacotron2"]} | {
        f"vocoder.model.{k}" for k in stand_ins["wavernn"]
    }
    model = tts_tacotron2_wavernn(weights=TTS, decoder_max_step=MAX_STEPS, progress=False).eval()
    assert model.tacotron2.decoder.decoder_max_step == MAX_STEPS
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    assert model.sample_rate == TTS.meta["sample_rate"] == 22050


def test_text_to_wav_end_to_end(mirror: FileServer, tmp_path: Path) -> None:
    model = get_model("tts_tacotron2_wavernn", weights="DEFAULT", decoder_max_step=MAX_STEPS, progress=False).eval()
    tokens, lengths = TTS.transforms()("Hello world!")
    assert tokens.shape == (1, 12)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Reached max decoder steps": expected with MAX_STEPS
        waveform, wave_lengths, mel, mel_lengths = model(tokens, lengths)
    frames = int(mel_lengths[0])
    assert mel.shape == (1, TTS.meta["n_mels"], frames) and 1 <= frames <= MAX_STEPS
    assert waveform.shape == (1, frames * TTS.meta["hop_length"]) and int(wave_lengths[0]) == waveform.shape[1]
    assert waveform.abs().max() <= 1.0

    path = write_wav(tmp_path / "out" / "speech.wav", waveform[0], model.sample_rate)
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.getnframes() == waveform.shape[1]
        samples = torch.frombuffer(bytearray(wav.readframes(wav.getnframes())), dtype=torch.int16)
    torch.testing.assert_close(samples.float() / 32767, waveform[0], atol=1 / 32767, rtol=0)


def test_vocoder_matches_torchaudios_pipeline_vocoder(stand_ins: dict[str, dict[str, torch.Tensor]]) -> None:
    """Same WaveRNN, same mel, same random seed: our vocoder and torchaudio's give the same samples."""
    from torchaudio.models import WaveRNN
    from torchaudio.pipelines._tts.impl import _WaveRNNVocoder

    from modelver.models.audio._modules import WaveRNNVocoder

    model = WaveRNN(**WAVERNN_PARAMS).eval()
    model.load_state_dict(stand_ins["wavernn"])
    mel = torch.randn(1, 80, 2, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([2])
    outputs = []
    for vocoder in (WaveRNNVocoder(model), _WaveRNNVocoder(model)):
        torch.manual_seed(7)
        with torch.inference_mode():
            outputs.append(vocoder(mel, lengths))
    torch.testing.assert_close(outputs[0][0], outputs[1][0])
    assert torch.equal(outputs[0][1], outputs[1][1])
    assert torch.equal(NormalizeMel()(mel), WaveRNN_Weights.DEFAULT.transforms()(mel))


def test_torchaudio_checkpoint_name_still_works(mirror: FileServer) -> None:
    with pytest.warns(UserWarning, match=r"'checkpoint_name' is deprecated.*weights=WaveRNN_Weights.LJSPEECH_8BITS"):
        model = wavernn(checkpoint_name="wavernn_10k_epochs_8bits_ljspeech", progress=False)
    assert model.n_classes == 256
    with pytest.raises(ValueError, match="Unexpected checkpoint_name: 'nope'. Valid names: tacotron2_english_"):
        tacotron2(checkpoint_name="nope")


def test_wrong_parameters_for_the_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="'n_symbol' expected value 38 but got 96"):
        tacotron2(weights="CHAR_WAVERNN_LJSPEECH", n_symbol=96)


def test_write_wav_refuses_what_is_not_a_mono_float_waveform(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mono waveform"):
        write_wav(tmp_path / "x.wav", torch.zeros(2, 10), 22050)
    with pytest.raises(TypeError, match="float waveform"):
        write_wav(tmp_path / "x.wav", torch.zeros(10, dtype=torch.int16), 22050)


def test_text_to_speech_example(release_server: FileServer, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "text_to_speech.py"), "--max-decoder-steps", str(MAX_STEPS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=subprocess_env(MODELVER_MIRROR=release_server.base, TORCH_HOME=str(tmp_path / "torch")),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    n_symbol, shape = lines[0].split(" ", 1)
    assert n_symbol == "38" and shape.startswith("torch.Size([1, 80, ")
    frames = int(shape.removeprefix("torch.Size([1, 80, ").removesuffix("])"))
    assert lines[-1] == "Saving wave at output/message.wav"
    with wave.open(str(tmp_path / "output" / "message.wav")) as wav:
        assert wav.getframerate() == 22050 and wav.getnchannels() == 1
        assert wav.getnframes() == frames * 275


def test_a_lock_holds_the_pipeline_file_to_its_pinned_bytes(
    mirror: FileServer, stand_ins: dict[str, dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    """The pipeline's pin (its url: the Tacotron2 file) is enforced when the pipeline loads, not only by --check."""
    import modelver
    from modelver.errors import IntegrityError
    from modelver.lockfile import _format
    from modelver.store import fetch

    lock = tmp_path / "modelver.lock"
    modelver.write_lock(lock, ["tts_tacotron2_wavernn"])
    pin = _format.read(lock).pins["tts_tacotron2_wavernn"]
    cached = fetch(Tacotron2_Weights.CHAR_WAVERNN_LJSPEECH, progress=False)
    with modelver.use_lock(lock):
        assert TTS.get_state_dict(progress=False).keys() >= {f"tacotron2.{k}" for k in stand_ins["tacotron2"]}

    buffer = io.BytesIO()  # the cached file replaced by another valid checkpoint (torchaudio publishes no sha256)
    torch.save({k: v + 1 for k, v in stand_ins["tacotron2"].items()}, buffer)
    cached.write_bytes(buffer.getvalue())
    assert TTS.get_state_dict(progress=False)  # unlocked, nothing knows better
    with modelver.use_lock(lock), pytest.raises(IntegrityError) as failure:
        TTS.get_state_dict(progress=False)
    assert f"{lock} pins TTS_Tacotron2_WaveRNN_Weights.CHAR_LJSPEECH to sha256 {pin.sha256}" in str(failure.value)
