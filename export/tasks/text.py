"""Text bundles: token ids and attention mask (B, L) int64 → sentence embeddings, hidden states or class probabilities.

The tokenizer is not in the graph: its ``tokenizer.json`` travels with every bundle, and the
runtime tokenizes with the ``tokenizers`` library (no torch), with the truncation and
padding of the weights' own tokenizer (recorded in the meta under ``tokenization``). The
export checks both halves: the model part against eager on the sample sentences and on
random token batches of other sizes, and the bundle's tokenizer against
``weights.transforms()`` on the sentences. Batch and sequence length are dynamic in every
format, up to the model's longest input.
"""

from __future__ import annotations

from typing import Any, ClassVar, List, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from modelver.errors import BundleError

from .._tokenize import TOKENIZER_FILE
from ._base import Case, TaskExporter, bundle_directory

__all__ = [
    "SENTENCES",
    "SentenceEmbeddingExporter",
    "TextClassificationExporter",
    "TextEncodingExporter",
    "TextPipeline",
]

IDS, MASK = "input_ids", "attention_mask"
#: sentence-transformers' example for all-MiniLM-L6-v2 (cosine similarities 0.6660, 0.1046, 0.1411)
SENTENCES = ("The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.")


class TextPipeline(nn.Module):
    """The model on (input_ids, attention_mask), plus a softmax for classifiers; scriptable and exportable."""

    def __init__(self, model: nn.Module, softmax: bool = False) -> None:
        super().__init__()
        self.model = model
        self.softmax = softmax

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        if input_ids.dtype != torch.int64 or input_ids.dim() != 2:
            raise ValueError("expected int64 token ids of shape (batch, sequence)")
        out = self.model(input_ids, attention_mask)
        if self.softmax:
            out = out.softmax(-1)
        return out


def _encoder(model: nn.Module) -> Any:
    """The token encoder inside a text model (the model itself, or a classifier's backbone)."""
    from modelver.models.text.encoder import TextEncoder

    for candidate in (model, getattr(model, "backbone", None)):
        if isinstance(candidate, TextEncoder):
            return candidate
    raise BundleError(f"{type(model).__name__} is not a modelver text encoder (TextEncoder or a classifier on one).")


class _TextExporter(TaskExporter):
    """What every text task shares: inputs, tokenizer, cases, the torch module and the ONNX export."""

    output: ClassVar[str]
    softmax: ClassVar[bool] = False
    tolerance_note = "absolute, fp32"

    def __init__(self, name: str, model: Any, weights: Any, weights_label: str) -> None:
        super().__init__(name, model, weights, weights_label)
        from modelver.models.text.tokenizer import TextTokenizer

        self.encoder = _encoder(model)
        tokenizer = weights.transforms()
        if not isinstance(tokenizer, TextTokenizer):
            raise BundleError(
                f"{weights_label}: text bundles need a tokenizer.json preset (modelver.models.text.tokenizer."
                f"TextTokenizer) as weights.transforms(), got {type(tokenizer).__name__}."
            )
        self.tokenizer = tokenizer
        self.vocab_size = int(self.encoder.embeddings.word_embeddings.num_embeddings)
        self.pad_id = int(tokenizer.pad_id)
        # the longest input the model takes (its position table); the tokenizer truncates earlier
        self.max_length = int(self.encoder.max_length)

    # --- description -------------------------------------------------------------------
    def inputs(self) -> list[dict[str, Any]]:
        limits = {"sequence": self.max_length}
        return [
            {
                "name": IDS,
                "dtype": "int64",
                "shape": ["batch", "sequence"],
                "range": [0, self.vocab_size - 1],
                "max": limits,
                "description": f"token ids of {TOKENIZER_FILE} (in the bundle), padded with {self.pad_id}",
            },
            {
                "name": MASK,
                "dtype": "int64",
                "shape": ["batch", "sequence"],
                "range": [0, 1],
                "max": limits,
                "description": "1 for a token, 0 for padding",
            },
        ]

    def task_meta(self) -> dict[str, Any]:
        return {
            "tokenization": {
                "file": TOKENIZER_FILE,
                "library": "tokenizers",
                "max_length": self.tokenizer.max_length,
                "pad_token": self.tokenizer.pad_token,
                "pad_id": self.pad_id,
                "padding": "to the longest text of the batch",
            },
            "max_sequence_length": self.max_length,
        }

    def doc_lines(self) -> list[str]:
        out = self.outputs()[0]
        return [
            (f"Inputs `{IDS}` and `{MASK}`: int64, shape (batch, sequence), sequence up to {self.max_length}; "
            f"tokenize with the `{TOKENIZER_FILE}` shipped with the bundle (truncate to "
            f"{self.tokenizer.max_length}, pad with {self.tokenizer.pad_token!r} = {self.pad_id})."),
            f"Output `{out['name']}`: float32 {tuple(out['shape'])}, {out['description']}.",
        ]

    def bundle_files(self) -> dict[str, bytes]:
        return {TOKENIZER_FILE: self.tokenizer.path.read_bytes()}

    # --- checking ----------------------------------------------------------------------
    def _random_batch(self, rng: np.random.Generator, lengths: list[int], width: int) -> dict[str, np.ndarray]:
        ids = np.full((len(lengths), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(lengths), width), dtype=np.int64)
        choices = np.setdiff1d(np.arange(self.vocab_size), [self.pad_id])
        for row, length in enumerate(lengths):
            ids[row, :length] = rng.choice(choices, size=length)
            mask[row, :length] = 1
        return {IDS: ids, MASK: mask}

    def cases(self) -> list[Case]:
        sentences = {k: v.numpy() for k, v in self.tokenizer(list(SENTENCES)).items()}
        rng = np.random.default_rng(0)
        width, short = min(23, self.max_length), min(5, self.max_length)
        return [
            Case("the sample sentences, tokenized by weights.transforms()", sentences),
            Case("random tokens, one text", self._random_batch(rng, [short], short)),
            Case("random tokens, batch of 4 with padding", self._random_batch(rng, [width, 17, 9, 2], width)),
        ]

    def reference(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            out = self.model(torch.from_numpy(inputs[IDS]), torch.from_numpy(inputs[MASK]))
            if self.softmax:
                out = out.softmax(-1)
        return {self.output: out.numpy()}

    def extra_checks(self, fmt: Any, model_path: Any, cases: list[Case]) -> dict[str, dict[str, Any]]:
        """The bundle's own tokenizer (the runtime's) gives weights.transforms()'s ids on the sample sentences."""
        from .._tokenize import BundleTokenizer

        meta = self.task_meta()["tokenization"]
        ours = BundleTokenizer(bundle_directory(model_path) / TOKENIZER_FILE, meta)(list(SENTENCES))
        theirs = cases[0].inputs
        same = all(ours[k].shape == theirs[k].shape and bool((ours[k] == theirs[k]).all()) for k in (IDS, MASK))
        return {
            cases[0].name: {
                "check": f"the bundle's {TOKENIZER_FILE} (tokenizers, no torch) vs weights.transforms(): "
                "equal ids and mask",
                "passed": same,
            }
        }

    # --- artifacts ---------------------------------------------------------------------
    def torch_module(self) -> nn.Module:
        return TextPipeline(self.model, self.softmax).eval()

    def export_args(self) -> tuple[Any, ...]:
        # batch 3, sequence 7: no axis of size 0 or 1 and no two equal, so none specialises
        length = min(7, self.max_length)
        ids = torch.full((3, length), self.pad_id, dtype=torch.int64)
        ids[:, 0] = (self.pad_id + 1) % self.vocab_size
        return ids, torch.ones(3, length, dtype=torch.int64)

    def dynamic_shapes(self) -> Any:
        from torch.export import Dim

        batch, sequence = Dim("batch"), Dim("sequence", max=self.max_length)
        return {IDS: {0: batch, 1: sequence}, MASK: {0: batch, 1: sequence}}

    def onnx_model(self, opset: int) -> Any:
        from .._torch_export import export_onnx

        return export_onnx(
            self.torch_module(),
            self.export_args(),
            input_names=[IDS, MASK],
            output_names=[self.output],
            dynamic_shapes=self.dynamic_shapes(),
            opset=opset,
        )


class SentenceEmbeddingExporter(_TextExporter):
    task = "sentence_embedding"
    output = "embeddings"
    tolerances: ClassVar[Mapping[str, float]] = {"embeddings": 1e-4}
    tolerance_note = "absolute, on fp32 sentence embeddings"

    def outputs(self) -> list[dict[str, Any]]:
        pooled = "mean-pooled over the mask" + (", L2-normalised" if getattr(self.model, "normalize", False) else "")
        return [
            {
                "name": self.output,
                "dtype": "float32",
                "shape": ["batch", self.encoder.hidden_size],
                "description": f"one embedding per text, {pooled}",
            }
        ]


class TextEncodingExporter(_TextExporter):
    task = "text_encoding"
    output = "last_hidden_state"
    # the report also gives the error relative to the largest value (hidden states are not normalised)
    tolerances: ClassVar[Mapping[str, float]] = {"last_hidden_state": 1e-4}
    tolerance_note = "absolute, on fp32 hidden states"

    def outputs(self) -> list[dict[str, Any]]:
        return [
            {
                "name": self.output,
                "dtype": "float32",
                "shape": ["batch", "sequence", self.encoder.hidden_size],
                "description": "contextual embedding of every token (the last hidden state)",
            }
        ]


class TextClassificationExporter(_TextExporter):
    task = "text_classification"
    output = "probabilities"
    softmax = True
    tolerances: ClassVar[Mapping[str, float]] = {"probabilities": 1e-4}
    tolerance_note = "absolute, on fp32 softmax probabilities"
    score_outputs = ("probabilities",)

    def __init__(self, name: str, model: Any, weights: Any, weights_label: str) -> None:
        super().__init__(name, model, weights, weights_label)
        if not weights.meta.get("categories"):
            raise BundleError(f"{weights_label} has no meta['categories']: a text classification bundle needs them.")
        self.categories: List[str] = list(weights.meta["categories"])

    def outputs(self) -> list[dict[str, Any]]:
        return [
            {
                "name": self.output,
                "dtype": "float32",
                "shape": ["batch", len(self.categories)],
                "description": "softmax probabilities; column i is meta['categories'][i]",
            }
        ]

    def task_meta(self) -> dict[str, Any]:
        return {**super().task_meta(), "categories": self.categories}
