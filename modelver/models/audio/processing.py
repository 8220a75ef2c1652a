"""Audio presets: text → symbol ids for Tacotron2, and Tacotron2's mel → WaveRNN's input scale.

Pure PyTorch and scriptable (``torch.jit.script``), so that listing models and reading
weights entries never imports torchaudio. The character table is torchaudio's
(``torchaudio.pipelines.TACOTRON2_WAVERNN_CHAR_LJSPEECH``; a test checks they agree).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from ...errors import ModelverError

__all__ = ["CHARACTERS", "CharacterProcessor", "NormalizeMel", "PhonemeProcessor"]

# Index 0 ("_") is the padding symbol.
CHARACTERS: Tuple[str, ...] = ("_", "-", "!", "'", "(", ")", ",", ".", ":", ";", "?", " ", *"abcdefghijklmnopqrstuvwxyz")


class CharacterProcessor(nn.Module):
    """Text → (symbol ids (B, L) int64, zero-padded; lengths (B,) int32), character by character.

    Lower-cases the text and drops characters outside the symbol table (digits, other
    punctuation), as torchaudio's English character processor does. Accepts a string or
    a list of strings.
    """

    def __init__(self, symbols: Sequence[str] = CHARACTERS) -> None:
        super().__init__()
        self.symbols: List[str] = list(symbols)
        self.mapping: Dict[str, int] = {s: i for i, s in enumerate(self.symbols)}

    @property
    def tokens(self) -> List[str]:
        return self.symbols

    def forward(self, texts: Union[str, List[str]]) -> Tuple[Tensor, Tensor]:
        if isinstance(texts, str):
            batch = [texts]
        else:
            batch = texts
        if len(batch) == 0:
            raise ValueError("Expected a text or a non-empty list of texts.")
        rows: List[Tensor] = []
        for text in batch:
            ids: List[int] = []
            for char in text.lower():
                if char in self.mapping:
                    ids.append(self.mapping[char])
            if len(ids) == 0:
                raise ValueError("A text has no character of the symbol table (letters, spaces, -!'(),.:;?).")
            rows.append(torch.tensor(ids, dtype=torch.long))
        lengths = torch.tensor([row.shape[0] for row in rows], dtype=torch.int32)
        return nn.utils.rnn.pad_sequence(rows, batch_first=True), lengths

    def describe(self) -> str:
        return (
            "Accepts a string or a list of strings. Each text is lower-cased and mapped character by character "
            f"to {len(self.symbols)} symbols ({''.join(self.symbols[1:])!r}; others are dropped); returns the ids "
            "padded with 0 and the lengths."
        )


class PhonemeProcessor:
    """Text → phoneme ids with DeepPhonemizer, as torchaudio's phoneme pipelines do.

    DeepPhonemizer (``pip install deep-phonemizer``) and its CMUDict model (downloaded by
    torchaudio on first use) are needed; without them construction fails and says so.
    """

    def __init__(self) -> None:
        try:
            import dp  # noqa: F401 - DeepPhonemizer's package
        except ImportError:
            raise ModelverError(
                "The phoneme-based Tacotron2 weights need DeepPhonemizer to turn text into phonemes: "
                "`pip install deep-phonemizer` (its en_us_cmudict_forward model is downloaded on first use). "
                "Or use the character-based entry (CHAR_...), which needs nothing more."
            ) from None
        import torchaudio

        self._processor = torchaudio.pipelines.TACOTRON2_WAVERNN_PHONE_LJSPEECH.get_text_processor()

    @property
    def tokens(self) -> List[str]:
        return list(self._processor.tokens)

    def __call__(self, texts: Union[str, List[str]]) -> Tuple[Tensor, Tensor]:
        return self._processor(texts)


class NormalizeMel(nn.Module):
    """Tacotron2's mel (natural log of magnitude) → WaveRNN's input: decibels scaled to [0, 1].

    ``x → clamp((min_level_db - 20 log10(max(exp(x), 1e-5))) / min_level_db, 0, 1)``: the
    normalisation WaveRNN was trained with (torchaudio's ``pipeline_wavernn`` recipe).
    """

    def __init__(self, min_level_db: Optional[float] = -100.0) -> None:
        super().__init__()
        self.min_level_db = min_level_db

    def forward(self, mel: Tensor) -> Tensor:
        mel = 20 * torch.log10(torch.clamp(torch.exp(mel), min=1e-5))
        min_level_db = self.min_level_db
        if min_level_db is not None:
            mel = torch.clamp((min_level_db - mel) / min_level_db, min=0.0, max=1.0)
        return mel

    def describe(self) -> str:
        return (
            "Accepts a mel spectrogram (B, n_mels, T) in natural-log magnitude, as Tacotron2 outputs. It is "
            f"converted to decibels and scaled to [0, 1] with min_level_db={self.min_level_db}."
        )
