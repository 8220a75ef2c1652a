"""Run-time classes of the text tasks: the bundle's own tokenizer (tokenizers + numpy), embeddings, classes."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from modelver.errors import BundleError

from .meta import bundle_file
from .task import RunOptions, TaskRuntime, top_k

__all__ = ["SentenceEmbeddingRuntime", "TextClassificationRuntime", "TextEncodingRuntime", "TextRuntime"]


class TextRuntime(TaskRuntime):
    """Shared by the text tasks: token ids and attention mask of the same shape, the bundle's tokenizer."""

    _tokenizer: Any = None

    def check(self, feeds: Mapping[str, np.ndarray]) -> None:
        ids, mask = feeds["input_ids"], feeds["attention_mask"]
        if ids.shape != mask.shape:
            raise BundleError(
                f"Inputs 'input_ids' {tuple(ids.shape)} and 'attention_mask' {tuple(mask.shape)} of "
                f"{self.name} must have the same shape."
            )

    @property
    def tokenizer(self) -> Any:
        """The bundle's own tokenizer (``tokenizer.json`` beside the model; tokenizers + numpy, no torch)."""
        if self._tokenizer is None:
            settings = self.meta.get("tokenization")
            if not isinstance(settings, dict):
                raise BundleError(f"This {self.meta.get('task')!r} bundle takes no text (its meta has no tokenization).")
            from .._tokenize import BundleTokenizer

            path = self.bundle.path
            directory = path if path.is_dir() else path.parent
            file = bundle_file(directory, str(settings.get("file", "tokenizer.json")), "tokenizer")
            self._tokenizer = BundleTokenizer(file, settings)
        return self._tokenizer

    def run_text(self, texts: str | Sequence[str]) -> dict[str, np.ndarray]:
        """Tokenize ``texts`` with the bundle's tokenizer and run: every output, one row per text."""
        return self.bundle.run(self.tokenizer(texts))


class SentenceEmbeddingRuntime(TextRuntime):
    task = "sentence_embedding"

    def embed(self, texts: str | Sequence[str]) -> np.ndarray:
        """Sentence embeddings (len(texts), dim) float32."""
        return self.run_text(texts)["embeddings"]

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        embeddings = self.embed(list(inputs))
        unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        lines = [f"{self.head()}, cosine similarity of {len(inputs)} sentences:"]
        lines += [f"  [{i}] {text}" for i, text in enumerate(inputs, 1)]
        lines.append(" " * 5 + "".join(f"[{j}]".rjust(8) for j in range(1, len(inputs) + 1)))
        for i, row in enumerate(unit @ unit.T, 1):
            lines.append(f"[{i}]".ljust(5) + "".join(f"{value:8.4f}" for value in row))
        return lines


class TextEncodingRuntime(TextRuntime):
    task = "text_encoding"

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        batch = self.tokenizer(list(inputs))
        hidden = self.bundle.run(batch)["last_hidden_state"]
        lines = [f"{self.head()}, last hidden state of each text:"]
        for text, mask, row in zip(inputs, batch["attention_mask"], hidden):
            count = int(mask.sum())
            first = row[0, :3].round(4).tolist()
            lines.append(f"  {text!r}: {count} tokens -> ({count}, {row.shape[-1]}), first values {first}")
        return lines


class TextClassificationRuntime(TextRuntime):
    task = "text_classification"

    def classify_text(self, texts: str | Sequence[str], topk: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k (category, probability) of each text."""
        categories = self.require_categories()
        if topk < 1:
            raise BundleError(f"topk must be at least 1, got {topk}.")
        return [top_k(row, categories, topk) for row in self.run_text(texts)["probabilities"]]

    def describe(self, inputs: Sequence[str], options: RunOptions) -> list[str]:
        lines = [f"{self.head()}:"]
        for text, top in zip(inputs, self.classify_text(list(inputs), options.topk)):
            lines.append(f"  {text}")
            lines += [f"    {prob:7.2%}  {label}" for label, prob in top]
        return lines
