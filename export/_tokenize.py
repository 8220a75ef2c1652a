"""Texts → token ids with a bundle's own ``tokenizer.json``: the ``tokenizers`` library and numpy, no torch.

The settings (truncation length, padding token) are the weights' tokenizer's, recorded in
the bundle's meta under ``tokenization``, so a bundle tokenizes exactly as
``weights.transforms()`` does (the export checks it on its sample sentences).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np

from modelver.errors import BundleError, first_line

__all__ = ["TOKENIZER_FILE", "BundleTokenizer"]

TOKENIZER_FILE = "tokenizer.json"


class BundleTokenizer:
    """``tokenizer.json`` + the meta's ``tokenization`` → ``{"input_ids", "attention_mask"}`` int64 (B, L).

    Pads to the longest text of the batch and truncates to ``max_length`` tokens, as the
    weights' own tokenizer (``modelver.models.text.tokenizer.TextTokenizer``) does.
    """

    def __init__(self, path: Union[str, Path], settings: Mapping[str, Any]) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise BundleError(
                "Text bundles tokenize with the tokenizers library, which is not installed here: pip install tokenizers"
            ) from None
        self.path = Path(path)
        if not self.path.is_file():
            raise BundleError(
                f"{self.path} is missing: text bundles need the {TOKENIZER_FILE} exported beside the model; "
                "copy the whole bundle directory."
            )
        try:
            self.max_length = int(settings["max_length"])
            self.pad_id = int(settings["pad_id"])
            self.pad_token = str(settings["pad_token"])
        except (KeyError, TypeError, ValueError):
            raise BundleError(f"The bundle's meta has no valid 'tokenization' settings: {dict(settings)}.") from None
        try:
            self._tokenizer = Tokenizer.from_file(str(self.path))
        except Exception as exc:  # noqa: BLE001 - the tokenizers library raises its own exception types
            raise BundleError(
                f"{self.path} is not a tokenizer.json the tokenizers library can read ({first_line(exc)})."
            ) from None
        self._tokenizer.enable_truncation(max_length=self.max_length)
        self._tokenizer.enable_padding(pad_id=self.pad_id, pad_token=self.pad_token)

    def __call__(self, texts: Union[str, Sequence[str]]) -> dict[str, np.ndarray]:
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not batch or not all(isinstance(t, str) for t in batch):
            raise BundleError(f"Expected a string or a non-empty list of strings, got {texts!r}.")
        encodings = self._tokenizer.encode_batch(batch)
        return {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
        }
