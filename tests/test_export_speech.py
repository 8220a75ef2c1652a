"""Speech bundles: Tacotron2, WaveRNN and the TTS chain (synthetic weights, few decoder steps) to TorchScript.

The models sample (prenet dropout at inference, multinomial WaveRNN), so parity runs eager
and the bundle after the same torch.manual_seed. The formats that cannot work are refused
with their reason before anything is built.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
import wave
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import torch
from export_helpers import blocked_python, one_line, parity_cases
from modelver_export import export_model
from modelver_export.registry import format_names, support
from modelver_export.runtime import describe_run, load

from modelver import get_model
from modelver.errors import BundleError
from modelver.models.audio.processing import CHARACTERS
from modelver.testing import synthetic_weights

#: builder → (task, build kwargs): few decoder steps keep WaveRNN's sample-by-sample loop short
BUILDERS = {
    "tacotron2": ("text_to_mel", {"decoder_max_step": 4}),
    "wavernn": ("vocoder", {}),
    "tts_tacotron2_wavernn": ("text_to_speech", {"decoder_max_step": 2}),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """The sampling loops run thousands of tiny ops: two intra-op threads are no faster (measured), and on a
    busy shared machine every op's thread barrier waits for a descheduled core (5-10x slower runs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def quiet_max_steps() -> Iterator[None]:
    with warnings.catch_warnings():  # synthetic weights never predict the stop gate
        warnings.filterwarnings("ignore", message="Reached max decoder steps")
        yield


@dataclasses.dataclass
class Exported:
    name: str
    model: torch.nn.Module
    bundle: Path


def _export(name: str, out: Path) -> Exported:
    _task, kwargs = BUILDERS[name]
    with synthetic_weights(seed=7), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Reached max decoder steps")
        model = get_model(name, weights="DEFAULT", **kwargs).eval()
        (result,) = export_model(name, formats="all", out=out, model=model, progress=None)
    return Exported(name, model, result.path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    out = tmp_path_factory.mktemp("speech")
    return {name: _export(name, out / name) for name in BUILDERS}


def manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "bundle.json").read_text())


@pytest.mark.parametrize("name", BUILDERS)
def test_supported_formats_are_torchscript_only(name: str) -> None:
    formats = support(BUILDERS[name][0])
    assert [f for f in format_names() if formats[f] is None] == ["torchscript"]
    assert all(formats[f] for f in ("onnx", "pt2", "triton"))


@pytest.mark.parametrize(("name", "fmt"), parity_cases({name: ["torchscript"] for name in BUILDERS}))
def test_torchscript_parity_is_seeded_and_exact(exported: dict[str, Exported], name: str, fmt: str) -> None:
    m = manifest(exported[name].bundle)
    assert m["format"] == fmt and m["task"] == BUILDERS[name][0]
    assert m["export"]["method"] == "torch.jit.script + torch.jit.freeze"
    parity = m["parity"]
    assert parity["checked"] and parity["passed"], parity
    assert "same torch.manual_seed" in parity["compared"]
    assert len(parity["cases"]) == 2
    for i, case in enumerate(parity["cases"]):
        assert case["case"].endswith(f"torch.manual_seed({i})")
        for output, report in case["outputs"].items():
            assert report["passed"] and report["max_abs"] <= report["atol"], (output, report)
            if output.endswith("lengths"):
                assert report["atol"] == 0.0
    if name != "wavernn":  # the character table travels with the bundle; the sample is real text
        assert m["meta"]["text_processing"]["symbols"] == list(CHARACTERS)
        assert parity["cases"][0]["case"].startswith("'Hello world!' by weights.transforms()")


def _eager(exported: Exported, inputs: dict[str, np.ndarray], seed: int) -> list[np.ndarray]:
    args = [torch.from_numpy(a) for a in inputs.values()]
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(seed)
        if exported.name == "tacotron2":
            out = exported.model.infer(*args)[:2]
        elif exported.name == "wavernn":
            from modelver.models.audio._modules import WaveRNNVocoder

            out = WaveRNNVocoder(exported.model).eval()(*args)
        else:
            out = exported.model(*args)[:2]
    return [o.numpy() for o in out]


def _inputs(name: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    if name == "wavernn":
        return {"mel": rng.uniform(-10, 1, (2, 80, 2)).astype(np.float32), "lengths": np.array([2, 1], np.int32)}
    tokens = rng.integers(1, len(CHARACTERS), (3, 7))
    tokens[2, 4:] = 0
    return {"tokens": tokens, "lengths": np.array([7, 7, 4], np.int32)}


@pytest.mark.parametrize("name", BUILDERS)
def test_seeded_runs_equal_eager_and_leave_the_generator_alone(exported: dict[str, Exported], name: str) -> None:
    bundle = load(exported[name].bundle, trust_code=True)
    inputs = _inputs(name)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    got = bundle.run(inputs, seed=11)
    assert torch.equal(torch.random.get_rng_state(), state)
    expected = _eager(exported[name], inputs, seed=11)
    for (key, value), reference in zip(got.items(), expected):
        assert value.dtype == reference.dtype and value.shape == reference.shape, key
        np.testing.assert_allclose(value, reference, rtol=0, atol=1e-4, err_msg=key)
    again = bundle.run(inputs, seed=11)
    assert all(np.array_equal(again[k], got[k]) for k in got)


def test_synthesize_keeps_the_order_and_writes_wavs(exported: dict[str, Exported], tmp_path: Path) -> None:
    tts = exported["tts_tacotron2_wavernn"]
    bundle = load(tts.bundle, trust_code=True)
    assert bundle.sample_rate == 22050
    texts = ["Hi.", "Hello, world!"]
    waveforms = bundle.synthesize(texts, seed=3)
    ids, lengths = bundle.symbols(texts)
    assert lengths.tolist() == [3, 13] and ids[0, 3:].tolist() == [0] * 10
    # the model gets the batch longest first; synthesize gives the waveforms back in the order of the texts
    expected, expected_lengths = _eager(tts, {"tokens": ids[::-1].copy(), "lengths": lengths[::-1].copy()}, seed=3)
    hop = 275  # WaveRNN's samples per mel frame
    assert expected_lengths.tolist()[::-1] == [len(w) for w in waveforms] and all(len(w) % hop == 0 for w in waveforms)
    assert waveforms[0].dtype == np.float32
    np.testing.assert_array_equal(waveforms[1], expected[0, : len(waveforms[1])])
    np.testing.assert_array_equal(waveforms[0], expected[1, : len(waveforms[0])])

    lines = describe_run(bundle, texts, out=str(tmp_path / "speech.wav"), seed=3)
    assert lines[0].startswith("tts_tacotron2_wavernn (TTS_Tacotron2_WaveRNN_Weights.CHAR_LJSPEECH), torchscript")
    seconds = len(waveforms[1]) / 22050
    assert lines[0].endswith(", 22050 Hz:")
    assert lines[2] == f"  'Hello, world!': {seconds:.2f} s -> {tmp_path / 'speech-2.wav'}"
    with wave.open(str(tmp_path / "speech-2.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (22050, 1, len(waveforms[1]))
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(frames, np.round(np.clip(waveforms[1], -1, 1) * 32767).astype(np.int16))


def test_speech_input_errors_are_one_clear_line(exported: dict[str, Exported]) -> None:
    bundle = load(exported["tacotron2"].bundle, trust_code=True)
    tokens = np.ones((2, 5), np.int64)
    for lengths, fragment in (
        ([3, 5], "must be in decreasing order (the model packs its batch longest first), got [3, 5]"),
        ([6, 5], "must be from 1 to 5 (the padded number of symbols), got [6, 5]"),
    ):
        with pytest.raises(BundleError) as exc:
            bundle.run({"tokens": tokens, "lengths": np.asarray(lengths, np.int32)})
        assert fragment in one_line(exc)
    with pytest.raises(BundleError) as exc:
        bundle.run({"tokens": tokens * 99, "lengths": np.asarray([5, 5], np.int32)})
    assert f"must hold values from 0 to {len(CHARACTERS) - 1}, got 99 to 99" in one_line(exc)
    with pytest.raises(BundleError, match="'12345' has no character of the symbol table"):
        bundle.symbols(["12345"])
    with pytest.raises(BundleError, match="synthesize needs a text_to_speech bundle; this one is 'text_to_mel'"):
        bundle.synthesize("Hello")
    with pytest.raises(BundleError, match="`run` has no command-line form for 'vocoder' bundles"):
        describe_run(load(exported["wavernn"].bundle, trust_code=True), ["Hello"])


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("fmt", ["onnx", "pt2", "triton"])
def test_unsupported_formats_are_refused_with_the_reason(name: str, fmt: str, tmp_path: Path) -> None:
    # nothing is built: torchaudio's weights are not here, and no time goes into a doomed export
    with pytest.raises(BundleError) as exc:
        export_model(name, formats=fmt, out=tmp_path, progress=None)
    message = one_line(exc)
    assert message.startswith(f"{name} cannot be exported to {fmt}: ")
    assert message.endswith("See `modelver export --list`.")
    assert support(BUILDERS[name][0])[fmt] in message
    assert list(tmp_path.iterdir()) == []


def test_tts_bundle_loads_with_plain_torch(exported: dict[str, Exported], tmp_path: Path) -> None:
    """No modelver, no export package, no torchaudio: torch.jit.load and the seed are all it takes."""
    inputs = _inputs("tts_tacotron2_wavernn")
    np.save(tmp_path / "tokens.npy", inputs["tokens"])
    script = (
        "import json, warnings, numpy as np, torch\n"
        "warnings.simplefilter('ignore')\n"
        "torch.set_num_threads(1)\n"
        "extra = {'meta.json': ''}\n"
        f"m = torch.jit.load({str(exported['tts_tacotron2_wavernn'].bundle / 'model.pt')!r}, _extra_files=extra)\n"
        "torch.manual_seed(11)\n"
        "with torch.inference_mode():\n"
        f"    lengths = torch.tensor({inputs['lengths'].tolist()}, dtype=torch.int32)\n"
        "    wave, lengths = m(torch.from_numpy(np.load('tokens.npy')), lengths)\n"
        "np.save('wave.npy', wave.numpy())\n"
        "print(json.loads(extra['meta.json'])['sample_rate'], lengths.tolist())\n"
    )
    result = blocked_python(script, "modelver", "export", "torchaudio", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = _eager(exported["tts_tacotron2_wavernn"], inputs, seed=11)
    assert result.stdout.split(maxsplit=1) == ["22050", f"{expected[1].tolist()}\n"]
    np.testing.assert_allclose(np.load(tmp_path / "wave.npy"), expected[0], rtol=0, atol=1e-4)
