"""Write a waveform as a 16-bit PCM WAV file with the standard library.

``torchaudio.save`` needs torchcodec in recent torchaudio releases; a mono 16-bit WAV needs
nothing but ``wave`` and numpy. No torch import either: the torch-free bundle runtime
(``modelver_export.runtime``) writes its speech with this function too.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any, Union

import numpy as np

__all__ = ["write_wav"]


def write_wav(path: Union[str, Path], waveform: Any, sample_rate: int) -> Path:
    """Save a mono waveform in [-1, 1] (a tensor or array of shape (N,) or (1, N)) as 16-bit PCM.

    Values outside [-1, 1] are clipped; parent directories are created. Returns the path.
    """
    if hasattr(waveform, "detach"):  # a torch tensor, on any device
        waveform = waveform.detach().cpu().numpy()
    samples = np.asarray(waveform)
    if samples.ndim == 2 and samples.shape[0] == 1:
        samples = samples[0]
    if samples.ndim != 1:
        raise ValueError(f"Expected a mono waveform of shape (N,) or (1, N), got {list(samples.shape)}.")
    if not np.issubdtype(samples.dtype, np.floating):
        raise TypeError(f"Expected a float waveform in [-1, 1], got {samples.dtype}.")
    pcm = np.round(np.clip(samples.astype(np.float32), -1.0, 1.0) * 32767.0).astype("<i2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return path
