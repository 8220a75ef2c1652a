"""Modules that chain torchaudio's models; imported only by the builders (it imports torchaudio)."""

from __future__ import annotations

from typing import Optional, Tuple

from torch import Tensor, nn
from torchaudio.functional import mu_law_decoding
from torchaudio.models import Tacotron2, WaveRNN

from .processing import NormalizeMel

__all__ = ["TextToSpeech", "WaveRNNVocoder"]


class WaveRNNVocoder(nn.Module):
    """Tacotron2's mel spectrogram (B, n_mels, T) → waveform (B, T * hop_length) in [-1, 1].

    Normalises the mel to WaveRNN's scale, samples WaveRNN autoregressively (slow on CPU:
    a few thousand samples per second) and decodes its mu-law classes.
    """

    def __init__(self, model: WaveRNN, min_level_db: Optional[float] = -100.0) -> None:
        super().__init__()
        self.model = model
        self.normalize = NormalizeMel(min_level_db)

    def forward(self, mel: Tensor, lengths: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor]]:
        scaled, lengths = self.model.infer(self.normalize(mel), lengths)
        # WaveRNN samples classes and returns them scaled to [-1, 1]: back to the class labels
        # [0, 2**n_bits - 1], then mu-law decoded to the waveform.
        top = 2**self.model.n_bits - 1
        labels = ((scaled.clamp(-1.0, 1.0) + 1.0) * (top / 2)).clamp(0, top).int()
        return mu_law_decoding(labels, self.model.n_classes).squeeze(1), lengths


class TextToSpeech(nn.Module):
    """Symbol ids → speech: Tacotron2 (ids → mel) then a vocoder (mel → waveform).

    ``forward(tokens, lengths)`` returns ``(waveform (B, N), waveform lengths, mel (B, n_mels, T),
    mel lengths)``; ``sample_rate`` is the waveform's.
    """

    def __init__(self, tacotron2: Tacotron2, vocoder: WaveRNNVocoder, sample_rate: int) -> None:
        super().__init__()
        self.tacotron2 = tacotron2
        self.vocoder = vocoder
        self.sample_rate = sample_rate

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tuple[Tensor, Optional[Tensor], Tensor, Tensor]:
        mel, mel_lengths, _ = self.tacotron2.infer(tokens, lengths)
        waveform, wave_lengths = self.vocoder(mel, mel_lengths)
        return waveform, wave_lengths, mel, mel_lengths
