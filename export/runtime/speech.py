"""Run-time classes of the speech tasks: text → symbol ids, mel spectrograms, waveforms written as WAV."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Mapping, Optional, Sequence

import numpy as np

from modelver.errors import BundleError, first_line

from .image import numbered
from .task import RunOptions, TaskRuntime

__all__ = ["TextToMelRuntime", "TextToSpeechRuntime", "VocoderRuntime", "write_wav"]


def _check_lengths(
    owner: str, feeds: Mapping[str, np.ndarray], data: str, axis: int, unit: str, descending: bool
) -> None:
    """``lengths`` of a padded batch: one per row, each from 1 to the padded size (longest first if ``descending``)."""
    lengths, size = feeds["lengths"], feeds[data].shape[axis]
    what = f"Input 'lengths' of {owner}"
    if lengths.shape != (feeds[data].shape[0],):
        raise BundleError(f"{what} must have one entry per row of {data!r}, got shape {tuple(lengths.shape)}.")
    if lengths.min() < 1 or lengths.max() > size:
        raise BundleError(f"{what} must be from 1 to {size} (the padded {unit}), got {lengths.tolist()}.")
    if descending and np.any(np.diff(lengths.astype(np.int64)) > 0):
        raise BundleError(
            f"{what} must be in decreasing order (the model packs its batch longest first), got {lengths.tolist()}; "
            "sort the batch (synthesize() does)."
        )


class _SpeechRuntime(TaskRuntime):
    @property
    def sample_rate(self) -> int:
        rate = self.meta.get("sample_rate")
        if not isinstance(rate, int):
            raise BundleError(f"This {self.meta.get('task')!r} bundle produces no audio (no sample_rate in its meta).")
        return rate


class _FromSymbols(_SpeechRuntime):
    """Tasks whose input is symbol ids (B, L) and lengths (B,), longest first."""

    def check(self, feeds: Mapping[str, np.ndarray]) -> None:
        _check_lengths(self.name, feeds, "tokens", 1, "number of symbols", descending=True)

    def symbols(self, texts: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Texts → (symbol ids (B, L) int64 zero-padded, lengths (B,) int32), as the weights' text processor.

        Lower-cases each text and drops characters outside the symbol table. The batch keeps
        the order of ``texts``; :meth:`run_sorted` sorts it for the model.
        """
        processing = self.meta.get("text_processing")
        symbols = processing.get("symbols") if isinstance(processing, dict) else None
        if not symbols:
            note = processing.get("note", "") if isinstance(processing, dict) else ""
            raise BundleError(
                f"This {self.meta.get('task')!r} bundle has no character table to turn text into symbols"
                f"{': ' + note if note else ''}; pass symbol ids to run()."
            )
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not batch or not all(isinstance(t, str) for t in batch):
            raise BundleError(f"Expected a string or a non-empty list of strings, got {texts!r}.")
        index = {symbol: i for i, symbol in enumerate(symbols)}
        lower = processing.get("lowercase", True)
        rows = [[index[c] for c in (t.lower() if lower else t) if c in index] for t in batch]
        for text, row in zip(batch, rows):
            if not row:
                raise BundleError(f"{text!r} has no character of the symbol table {''.join(symbols[1:])!r}.")
        ids = np.zeros((len(rows), max(len(r) for r in rows)), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        return ids, np.asarray([len(r) for r in rows], dtype=np.int32)

    def _run_sorted(self, texts: Sequence[str], seed: Optional[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(order, outputs): the batch run longest first, as the model packs it; row i is texts[order[i]]."""
        ids, lengths = self.symbols(texts)
        order = np.argsort(-lengths, kind="stable")
        return order, self.bundle.run({"tokens": ids[order], "lengths": lengths[order]}, seed=seed)


class TextToSpeechRuntime(_FromSymbols):
    task = "text_to_speech"
    options: ClassVar[frozenset[str]] = frozenset({"out"})

    def synthesize(self, texts: str | Sequence[str], *, seed: Optional[int] = None) -> list[np.ndarray]:
        """Speech of each text as a float32 waveform in [-1, 1] at :attr:`sample_rate`, in the order given."""
        order, outputs = self._run_sorted([texts] if isinstance(texts, str) else list(texts), seed)
        waveforms: list[np.ndarray] = [np.empty(0, np.float32)] * len(order)
        for row, original in enumerate(order):
            waveforms[original] = outputs["waveform"][row, : int(outputs["waveform_lengths"][row])]
        return waveforms

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        rate = self.sample_rate
        lines = [f"{self.head()}, {rate} Hz:"]
        for i, (text, waveform) in enumerate(zip(inputs, self.synthesize(list(inputs), seed=options.seed)), 1):
            path = write_wav(numbered(options.out or "speech.wav", i, len(inputs)), waveform, rate)
            lines.append(f"  {text!r}: {waveform.shape[0] / rate:.2f} s -> {path}")
        return lines


class TextToMelRuntime(_FromSymbols):
    task = "text_to_mel"

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        order, result = self._run_sorted(list(inputs), options.seed)
        lines = [f"{self.head()}, mel spectrograms:"]
        for row, original in enumerate(order):
            frames, mels = int(result["mel_lengths"][row]), result["mel"].shape[1]
            lines.append(f"  {inputs[original]!r}: {frames} frames of {mels} mels")
        return lines


class VocoderRuntime(_SpeechRuntime):
    """Mel in, waveform out: no command-line form (``bundle.run({"mel": ..., "lengths": ...})``)."""

    task = "vocoder"

    def check(self, feeds: Mapping[str, np.ndarray]) -> None:
        _check_lengths(self.name, feeds, "mel", 2, "number of frames", descending=False)


def write_wav(path: str | os.PathLike[str], waveform: np.ndarray, sample_rate: int) -> Path:
    """A mono float waveform in [-1, 1] as 16-bit PCM WAV (``modelver.models.audio.wav``: numpy, no torch)."""
    from modelver.models.audio.wav import write_wav as write_pcm16

    try:
        return write_pcm16(path, waveform, sample_rate)
    except OSError as exc:
        raise BundleError(f"Cannot write {path}: {first_line(exc)}") from None
