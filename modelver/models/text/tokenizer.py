"""The text preset: a Hugging Face ``tokenizer.json`` run by the ``tokenizers`` library.

A text weights entry's ``transforms`` is ``partial(tokenizer_beside, locations, ...)``: the
tokenizer file is fetched through the weights store from beside the weights file (the same
Hugging Face revision, the same package), so the tokenizer is versioned with the weights.
``tokenizers`` is imported only when a tokenizer is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence, Union

import torch
from torch import Tensor

__all__ = ["TextTokenizer", "tokenizer_beside"]


class TextTokenizer:
    """Texts → ``{"input_ids", "attention_mask"}`` (int64, (B, L)), padded to the longest, truncated.

    The output unpacks straight into a text model: ``model(**tokenizer(["a", "b"]))``.

    Args:
        path: a ``tokenizer.json`` file.
        max_length: truncate longer texts to this many tokens (special tokens included).
        pad_token: the padding token of the vocabulary (``[PAD]``, ``<pad>``).
    """

    def __init__(self, path: Union[str, Path], *, max_length: int, pad_token: str) -> None:
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.max_length = int(max_length)
        self._tokenizer = Tokenizer.from_file(str(self.path))
        pad_id = self._tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ValueError(f"{self.path} has no padding token {pad_token!r}.")
        self.pad_token, self.pad_id = pad_token, pad_id
        self._tokenizer.enable_truncation(max_length=self.max_length)
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)

    @property
    def vocab_size(self) -> int:
        return int(self._tokenizer.get_vocab_size())

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text (special tokens included), for inspection."""
        return list(self._tokenizer.encode(text).tokens)

    def __call__(self, texts: Union[str, Sequence[str]]) -> dict[str, Tensor]:
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not batch or not all(isinstance(t, str) for t in batch):
            raise TypeError(f"Expected a string or a non-empty list of strings, got {texts!r}.")
        encodings = self._tokenizer.encode_batch(batch)
        return {
            "input_ids": torch.tensor([e.ids for e in encodings], dtype=torch.long),
            "attention_mask": torch.tensor([e.attention_mask for e in encodings], dtype=torch.long),
        }

    def __repr__(self) -> str:
        return f"TextTokenizer({self.path.name}, vocab_size={self.vocab_size}, max_length={self.max_length})"

    def describe(self) -> str:
        return (
            "Accepts a string or a list of strings. They are tokenized with the release's tokenizer.json "
            f"(vocabulary of {self.vocab_size}), truncated to max_length={self.max_length} tokens and padded "
            f"with {self.pad_token!r} to the longest; returns input_ids and attention_mask as int64 tensors."
        )


def tokenizer_beside(
    weights_locations: Sequence[str],
    *,
    max_length: int,
    pad_token: str,
    file: str = "tokenizer.json",
    sha256: str = "",
    progress: bool = False,
    **kwargs: Any,
) -> TextTokenizer:
    """The :class:`TextTokenizer` released beside a weights file (tried at each of its locations in order).

    Under a lock (``use_lock`` / ``MODELVER_LOCK``), an ``hf://`` location is read at the commit
    the lock pinned for the weights, so the tokenizer is the one released with those weights.
    """
    from ...lockfile._active import pinned_location
    from ...store import fetch_beside

    locations = tuple(pinned_location(location) for location in weights_locations)
    path = fetch_beside(locations, file, sha256=sha256, progress=progress)
    return TextTokenizer(path, max_length=max_length, pad_token=pad_token, **kwargs)
