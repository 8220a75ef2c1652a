"""Speech bundles (TorchScript): symbol ids → mel spectrogram (Tacotron2), mel → waveform (WaveRNN), or both.

torchaudio's ``Tacotron2.infer`` and ``WaveRNN.infer`` are written for ``torch.jit.script``:
the bundle scripts them whole, with their loops and data-dependent stop. Both *sample*:
Tacotron2's prenet keeps dropout on at inference (as trained, for prosody) and WaveRNN draws
each audio sample with ``torch.multinomial``. The parity check therefore runs eager and the
bundle right after the same ``torch.manual_seed``, so they draw the same random numbers, and
compares every output; users get the same reproducibility with ``bundle.run(..., seed=N)``.

Why there is no ``.pt2`` or ONNX form (``modelver export --list`` shows the reasons, found by
trying, registered in :mod:`modelver_export._builtins`): ``torch.export`` needs static control flow, and onnxruntime
would draw its own random numbers, so no ONNX bundle of a sampling model could be checked.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from modelver.errors import BundleError

from ..registry import get_task
from ._base import Case, TaskExporter

__all__ = [
    "TextToMelExporter",
    "TextToMelPipeline",
    "TextToSpeechExporter",
    "TextToSpeechPipeline",
    "VocoderExporter",
    "VocoderPipeline",
]

TOKENS, LENGTHS, MEL = "tokens", "lengths", "mel"
SAMPLE_TEXTS = (("Hello world!",), ("The quick brown fox jumps.", "Hi there!"))


class TextToMelPipeline(nn.Module):
    """Symbol ids (B, L) int64 and lengths (B,) int32 → mel (B, n_mels, T) and mel lengths (B,) int32."""

    def __init__(self, tacotron2: nn.Module) -> None:
        super().__init__()
        self.tacotron2 = tacotron2

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tuple[Tensor, Tensor]:
        mel, mel_lengths, _ = self.tacotron2.infer(tokens, lengths)
        return mel, mel_lengths


class VocoderPipeline(nn.Module):
    """Tacotron2's mel (B, n_mels, T) and lengths (B,) int32 → waveform (B, T * hop_length) and its lengths."""

    def __init__(self, vocoder: nn.Module) -> None:
        super().__init__()
        self.vocoder = vocoder

    def forward(self, mel: Tensor, lengths: Tensor) -> Tuple[Tensor, Tensor]:
        waveform, waveform_lengths = self.vocoder(mel, lengths)
        assert waveform_lengths is not None  # given lengths, WaveRNN returns them scaled
        return waveform, waveform_lengths


class TextToSpeechPipeline(nn.Module):
    """Symbol ids and lengths → waveform (B, N) and waveform lengths (B,), through Tacotron2 and the vocoder."""

    def __init__(self, tts: nn.Module) -> None:
        super().__init__()
        self.tts = tts

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tuple[Tensor, Tensor]:
        waveform, waveform_lengths, _, _ = self.tts(tokens, lengths)
        assert waveform_lengths is not None
        return waveform, waveform_lengths


def _numpy(value: Optional[Tensor]) -> np.ndarray:
    assert value is not None
    return value.detach().numpy()


class _SpeechExporter(TaskExporter):
    """Shared by the speech tasks: seeded cases, TorchScript only."""

    parity_note = (
        "The model samples (Tacotron2's prenet keeps dropout on at inference; WaveRNN draws each sample with "
        "torch.multinomial): eager and the bundle each run right after the same torch.manual_seed, so they draw "
        "the same random numbers, and every output is compared."
    )

    def _cannot(self, capability: str) -> BundleError:
        return BundleError(f"{self.task}: {get_task(self.task).cannot[capability]}.")

    def export_args(self) -> tuple[Any, ...]:
        raise self._cannot("torch.export")

    def dynamic_shapes(self) -> Any:
        raise self._cannot("torch.export")

    def onnx_model(self, opset: int) -> Any:
        raise self._cannot("onnx")


class _FromSymbols(_SpeechExporter):
    """Tasks whose input is symbol ids: the text processor's table goes into the meta."""

    n_symbol: int

    def __init__(self, name: str, model: Any, weights: Any, weights_label: str) -> None:
        super().__init__(name, model, weights, weights_label)
        from modelver.errors import ModelverError
        from modelver.models.audio.processing import CharacterProcessor

        tacotron2 = self._tacotron2()
        if not hasattr(tacotron2, "infer") or not hasattr(tacotron2, "embedding"):
            raise BundleError(f"{weights_label}: expected torchaudio's Tacotron2, got {type(tacotron2).__name__}.")
        self.n_symbol = int(tacotron2.embedding.num_embeddings)
        try:
            self.processor: Any = weights.transforms()
        except ModelverError:  # the phoneme entries need DeepPhonemizer; their bundles still take symbol ids
            self.processor = None
        self.characters = self.processor if isinstance(self.processor, CharacterProcessor) else None

    def _tacotron2(self) -> nn.Module:
        return self.model

    def inputs(self) -> list[dict[str, Any]]:
        return [
            {
                "name": TOKENS,
                "dtype": "int64",
                "shape": ["batch", "symbols"],
                "range": [0, self.n_symbol - 1],
                "description": "symbol ids of the weights' text processor, zero-padded (0 is padding)",
            },
            {
                "name": LENGTHS,
                "dtype": "int32",
                "shape": ["batch"],
                "description": "number of symbols of each row, in decreasing order (the encoder packs the batch)",
            },
        ]

    def task_meta(self) -> dict[str, Any]:
        if self.characters is not None:
            processing: dict[str, Any] = {
                "kind": "characters",
                "symbols": list(self.characters.symbols),
                "lowercase": True,
                "unknown": "dropped",
                "padding_id": 0,
            }
        else:
            processing = {
                "kind": "phonemes",
                "note": "phoneme ids of DeepPhonemizer's CMUDict model, as torchaudio's "
                "TACOTRON2_WAVERNN_PHONE_LJSPEECH text processor gives them",
            }
        return {"text_processing": processing}

    def doc_lines(self) -> list[str]:
        lines = [
            (f"Inputs `{TOKENS}` int64 (batch, symbols), zero-padded, and `{LENGTHS}` int32 (batch,) in decreasing "
            "order."),
        ]
        if self.characters is not None:
            lines.append(
                "Text to symbols: lower-case, then each character's index in the metadata key "
                "`text_processing.symbols` (others dropped)."
            )
        outs = ", ".join(f"`{o['name']}` {o['dtype']} {tuple(o['shape'])}" for o in self.outputs())
        lines.append(f"Outputs: {outs}. The model samples: runs differ unless torch is seeded.")
        return lines

    def cases(self) -> list[Case]:
        cases = []
        texts_of = SAMPLE_TEXTS if self.processor is not None else ()
        for seed, texts in enumerate(texts_of):
            tokens, lengths = self.processor(list(texts))
            label = " / ".join(repr(t) for t in texts)
            inputs = {TOKENS: tokens.numpy(), LENGTHS: lengths.numpy()}
            cases.append(Case(f"{label} by weights.transforms()", inputs, seed=seed))
        if not cases:  # no text processor here: random symbol batches of the same sizes
            rng = np.random.default_rng(0)
            for seed, lengths in enumerate(([12], [26, 9])):
                tokens = np.zeros((len(lengths), lengths[0]), dtype=np.int64)
                for row, length in enumerate(lengths):
                    tokens[row, :length] = rng.integers(1, self.n_symbol, length)
                inputs = {TOKENS: tokens, LENGTHS: np.asarray(lengths, np.int32)}
                cases.append(Case(f"random symbols, lengths {lengths}", inputs, seed=seed))
        return cases


class TextToMelExporter(_FromSymbols):
    task = "text_to_mel"
    tolerances: ClassVar[Mapping[str, float]] = {"mel": 1e-4, "mel_lengths": 0.0}
    tolerance_note = "absolute, on the fp32 log-magnitude mel; frame counts exact"

    def outputs(self) -> list[dict[str, Any]]:
        n_mels = int(self.weights.meta.get("n_mels", 80))
        return [
            {"name": "mel", "dtype": "float32", "shape": ["batch", n_mels, "frames"],
             "description": "mel spectrogram (natural log of magnitude), zero after each row's length"},
            {"name": "mel_lengths", "dtype": "int32", "shape": ["batch"], "description": "frames of each row"},
        ]

    def reference(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            mel, lengths, _ = self.model.infer(torch.from_numpy(inputs[TOKENS]), torch.from_numpy(inputs[LENGTHS]))
        return {"mel": _numpy(mel), "mel_lengths": _numpy(lengths)}

    def torch_module(self) -> nn.Module:
        return TextToMelPipeline(self.model).eval()


class TextToSpeechExporter(_FromSymbols):
    task = "text_to_speech"
    tolerances: ClassVar[Mapping[str, float]] = {"waveform": 1e-4, "waveform_lengths": 0.0}
    tolerance_note = "absolute, on the fp32 waveform in [-1, 1]; sample counts exact"

    def _tacotron2(self) -> nn.Module:
        tacotron2 = getattr(self.model, "tacotron2", None)
        if tacotron2 is None or not hasattr(self.model, "vocoder"):
            got = type(self.model).__name__
            raise BundleError(f"{self.weights_label}: expected modelver's TextToSpeech, got {got}.")
        return tacotron2

    def outputs(self) -> list[dict[str, Any]]:
        return _waveform_outputs()

    def task_meta(self) -> dict[str, Any]:
        return {**super().task_meta(), "sample_rate": int(self.model.sample_rate)}

    def reference(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            waveform, lengths, _, _ = self.model(torch.from_numpy(inputs[TOKENS]), torch.from_numpy(inputs[LENGTHS]))
        return {"waveform": _numpy(waveform), "waveform_lengths": _numpy(lengths)}

    def torch_module(self) -> nn.Module:
        return TextToSpeechPipeline(self.model).eval()


def _waveform_outputs() -> list[dict[str, Any]]:
    return [
        {"name": "waveform", "dtype": "float32", "shape": ["batch", "samples"],
         "description": "mono waveform in [-1, 1] at meta['sample_rate']"},
        {"name": "waveform_lengths", "dtype": "int32", "shape": ["batch"], "description": "samples of each row"},
    ]


class VocoderExporter(_SpeechExporter):
    task = "vocoder"
    tolerances: ClassVar[Mapping[str, float]] = {"waveform": 1e-4, "waveform_lengths": 0.0}
    tolerance_note = "absolute, on the fp32 waveform in [-1, 1]; sample counts exact"
    #: Tacotron2's mel values: natural log of magnitudes, mostly in [-12, 2]
    MEL_RANGE: ClassVar[tuple[float, float]] = (-12.0, 2.0)

    def __init__(self, name: str, model: Any, weights: Any, weights_label: str) -> None:
        super().__init__(name, model, weights, weights_label)
        from modelver.models.audio._modules import WaveRNNVocoder
        from modelver.models.audio.processing import NormalizeMel

        if not hasattr(model, "infer") or not hasattr(model, "n_classes"):
            raise BundleError(f"{weights_label}: expected torchaudio's WaveRNN, got {type(model).__name__}.")
        normalize = weights.transforms()
        if not isinstance(normalize, NormalizeMel):
            got = type(normalize).__name__
            raise BundleError(f"{weights_label}: expected NormalizeMel as weights.transforms(), got {got}.")
        self.n_mels = int(weights.meta.get("n_mels", 80))
        self.vocoder = WaveRNNVocoder(model, normalize.min_level_db).eval()
        self.normalize = normalize

    def inputs(self) -> list[dict[str, Any]]:
        return [
            {"name": MEL, "dtype": "float32", "shape": ["batch", self.n_mels, "frames"],
             "description": "Tacotron2's mel spectrogram (natural log of magnitude); the bundle rescales it"},
            {"name": LENGTHS, "dtype": "int32", "shape": ["batch"], "description": "frames of each row"},
        ]

    def outputs(self) -> list[dict[str, Any]]:
        return _waveform_outputs()

    def task_meta(self) -> dict[str, Any]:
        return {
            "sample_rate": int(self.weights.meta.get("sample_rate", 22050)),
            "preprocessing": {"steps": [self.normalize.describe()]},
        }

    def doc_lines(self) -> list[str]:
        return [
            f"Inputs `{MEL}` float32 (batch, {self.n_mels}, frames), a Tacotron2 mel, and `{LENGTHS}` int32 (batch,).",
            ("Outputs: `waveform` float32 (batch, samples) in [-1, 1] and `waveform_lengths` int32 (batch,). "
            "WaveRNN samples: runs differ unless torch is seeded."),
        ]

    def cases(self) -> list[Case]:
        rng = np.random.default_rng(0)
        low, high = self.MEL_RANGE
        cases = []
        for seed, (frames, lengths) in enumerate(((3, [3]), (2, [2, 1]))):
            mel = rng.uniform(low, high, (len(lengths), self.n_mels, frames)).astype(np.float32)
            cases.append(
                Case(
                    f"random mel, {frames} frames, lengths {lengths}",
                    {MEL: mel, LENGTHS: np.asarray(lengths, dtype=np.int32)},
                    seed=seed,
                )
            )
        return cases

    def reference(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            waveform, lengths = self.vocoder(torch.from_numpy(inputs[MEL]), torch.from_numpy(inputs[LENGTHS]))
        return {"waveform": _numpy(waveform), "waveform_lengths": _numpy(lengths)}

    def torch_module(self) -> nn.Module:
        return VocoderPipeline(self.vocoder).eval()
