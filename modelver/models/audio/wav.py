"""Write a waveform as a 16-bit PCM WAV file with the standard library.

``torchaudio.save`` needs torchcodec in recent torchaudio releases; a mono 16-bit WAV needs
nothing but ``wave``.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Union

import torch
from torch import Tensor

__all__ = ["write_wav"]


def write_wav(path: Union[str, Path], waveform: Tensor, sample_rate: int) -> Path:
    """Save a mono waveform in [-1, 1] (shape (N,) or (1, N)) as 16-bit PCM; returns the path.

    Values outside [-1, 1] are clipped; parent directories are created.
    """
    if waveform.dim() == 2 and waveform.shape[0] == 1:
        waveform = waveform[0]
    if waveform.dim() != 1:
        raise ValueError(f"Expected a mono waveform of shape (N,) or (1, N), got {list(waveform.shape)}.")
    if not waveform.is_floating_point():
        raise TypeError(f"Expected a float waveform in [-1, 1], got {waveform.dtype}.")
    samples = (waveform.detach().cpu().clamp(-1.0, 1.0) * 32767.0).round().to(torch.int16)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(samples.numpy().astype("<i2").tobytes())
    return path
