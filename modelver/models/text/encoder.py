"""A plain-PyTorch Transformer encoder of the BERT / RoBERTa family, with Hugging Face's parameter names.

The module tree mirrors ``transformers``' ``BertModel`` / ``RobertaModel`` (``embeddings``,
``encoder.layer.N.attention.self.query``, ...), so their checkpoints load strictly after an
adapter drops what the encoder does not use (the pooler, an LM head, the ``position_ids``
buffer) and strips a task prefix (``roberta.``). Forward is free of dynamic Python: it works
under ``torch.jit.script`` and exports to ONNX with a dynamic batch and sequence length.

Position ids are computed in ``forward`` (BERT: ``0..L-1``; RoBERTa: counted over the
non-padding tokens from ``pad_token_id + 1``), never stored: builders construct on the
``meta`` device and every tensor must come from the checkpoint.

On top: :class:`SentenceEmbedding` (mean pooling over the attention mask, L2-normalised;
sentence-transformers' recipe) and :class:`TextClassifier` (an encoder backbone plus a
linear head, the composition the RFC proposes for backbones).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch import Tensor, nn

__all__ = ["SentenceEmbedding", "TextClassifier", "TextEncoder", "from_hf_bert", "from_hf_roberta", "mean_pool"]


class Embeddings(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_position_embeddings: int,
        type_vocab_size: int,
        pad_token_id: int,
        layer_norm_eps: float,
        dropout: float,
        positions_from_padding: bool,
    ) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size, padding_idx=pad_token_id)
        self.position_embeddings = nn.Embedding(
            max_position_embeddings, hidden_size, padding_idx=pad_token_id if positions_from_padding else None
        )
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.pad_token_id = pad_token_id
        self.positions_from_padding = positions_from_padding

    def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        if self.positions_from_padding:
            # RoBERTa (fairseq): real tokens count from pad_token_id + 1, padding sits at pad_token_id.
            mask = input_ids.ne(self.pad_token_id).to(torch.long)
            position_ids = torch.cumsum(mask, dim=1) * mask + self.pad_token_id
        else:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
        x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not a multiple of num_heads {num_heads}.")
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.dropout = dropout

    def _heads(self, x: Tensor) -> Tensor:
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_size).transpose(1, 2)

    def forward(self, hidden: Tensor, additive_mask: Tensor) -> Tensor:
        q, k, v = self._heads(self.query(hidden)), self._heads(self.key(hidden)), self._heads(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size) + additive_mask
        probs = nn.functional.dropout(scores.softmax(dim=-1), self.dropout, self.training)
        context = torch.matmul(probs, v).transpose(1, 2)
        return context.reshape(hidden.shape[0], hidden.shape[1], self.num_heads * self.head_size)


class DenseNorm(nn.Module):
    """``LayerNorm(dropout(dense(x)) + residual)``: HF's ``SelfOutput`` and ``Output``."""

    def __init__(self, cin: int, cout: int, layer_norm_eps: float, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(cin, cout)
        self.LayerNorm = nn.LayerNorm(cout, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class Attention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, layer_norm_eps: float, dropout: float, attn_dropout: float):
        super().__init__()
        self.self = SelfAttention(hidden_size, num_heads, attn_dropout)
        self.output = DenseNorm(hidden_size, hidden_size, layer_norm_eps, dropout)

    def forward(self, hidden: Tensor, additive_mask: Tensor) -> Tensor:
        return self.output(self.self(hidden, additive_mask), hidden)


class Intermediate(nn.Module):
    def __init__(self, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, intermediate_size)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(
        self, hidden_size: int, num_heads: int, intermediate_size: int, layer_norm_eps: float, dropout: float,
        attn_dropout: float,
    ) -> None:
        super().__init__()
        self.attention = Attention(hidden_size, num_heads, layer_norm_eps, dropout, attn_dropout)
        self.intermediate = Intermediate(hidden_size, intermediate_size)
        self.output = DenseNorm(intermediate_size, hidden_size, layer_norm_eps, dropout)

    def forward(self, hidden: Tensor, additive_mask: Tensor) -> Tensor:
        attended = self.attention(hidden, additive_mask)
        return self.output(self.intermediate(attended), attended)


class Encoder(nn.Module):
    def __init__(self, num_layers: int, **layer: Any) -> None:
        super().__init__()
        self.layer = nn.ModuleList([Layer(**layer) for _ in range(num_layers)])

    def forward(self, hidden: Tensor, additive_mask: Tensor) -> Tensor:
        for block in self.layer:
            hidden = block(hidden, additive_mask)
        return hidden


class TextEncoder(nn.Module):
    """BERT / RoBERTa encoder: token ids (B, L) → contextual embeddings (B, L, hidden_size).

    Args:
        vocab_size, hidden_size, num_layers, num_heads, intermediate_size: the architecture.
        max_position_embeddings: rows of the position table (512 for BERT, 514 for RoBERTa).
        type_vocab_size: segment types (2 for BERT, 1 for RoBERTa).
        pad_token_id: id of the padding token (0 for BERT's WordPiece, 1 for RoBERTa's BPE).
        positions_from_padding: RoBERTa's position ids (offset ``pad_token_id + 1``).
        layer_norm_eps, dropout, attention_dropout: as in the Hugging Face config.
    """

    def __init__(
        self,
        *,
        vocab_size: int = 30522,
        hidden_size: int = 768,
        num_layers: int = 12,
        num_heads: int = 12,
        intermediate_size: int = 3072,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        pad_token_id: int = 0,
        positions_from_padding: bool = False,
        layer_norm_eps: float = 1e-12,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.embeddings = Embeddings(
            vocab_size, hidden_size, max_position_embeddings, type_vocab_size, pad_token_id, layer_norm_eps, dropout,
            positions_from_padding,
        )
        self.encoder = Encoder(
            num_layers, hidden_size=hidden_size, num_heads=num_heads, intermediate_size=intermediate_size,
            layer_norm_eps=layer_norm_eps, dropout=dropout, attn_dropout=attention_dropout,
        )
        self.hidden_size = hidden_size
        # Longest input the position table covers (RoBERTa's first pad_token_id + 1 rows are not positions).
        self.max_length = max_position_embeddings - (pad_token_id + 1 if positions_from_padding else 0)

    def forward(
        self, input_ids: Tensor, attention_mask: Optional[Tensor] = None, token_type_ids: Optional[Tensor] = None
    ) -> Tensor:
        return self.token_embeddings(input_ids, attention_mask, token_type_ids)

    def token_embeddings(
        self, input_ids: Tensor, attention_mask: Optional[Tensor] = None, token_type_ids: Optional[Tensor] = None
    ) -> Tensor:
        """(B, L) token ids → (B, L, hidden_size) contextual embeddings (the last hidden state)."""
        if input_ids.dim() != 2:
            raise ValueError("input_ids must have shape (batch, sequence length); tokenize with weights.transforms().")
        if input_ids.shape[1] > self.max_length:
            raise ValueError(
                f"The input has {input_ids.shape[1]} tokens; this model takes at most {self.max_length}. "
                "Truncate when tokenizing (weights.transforms(max_length=...))."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        hidden = self.embeddings(input_ids, token_type_ids)
        # 0 where a token may be attended to, a large negative number at padding (HF's extended mask;
        # after softmax both give exactly 0 weight to padding).
        padding = attention_mask[:, None, None, :] == 0
        additive_mask = torch.zeros(padding.shape, dtype=hidden.dtype, device=hidden.device).masked_fill(padding, -1.0e9)
        return self.encoder(hidden, additive_mask)


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Average of the token embeddings over the tokens the mask keeps (sentence-transformers' pooling)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class SentenceEmbedding(TextEncoder):
    """A :class:`TextEncoder` that returns one vector per text: mean-pooled, L2-normalised (B, hidden_size).

    The parameter names are the encoder's, so a Hugging Face checkpoint loads as is; the
    token-level output is available through :meth:`token_embeddings`.
    """

    def __init__(self, *, normalize: bool = True, **config: Any) -> None:
        super().__init__(**config)
        self.normalize = normalize

    def forward(
        self, input_ids: Tensor, attention_mask: Optional[Tensor] = None, token_type_ids: Optional[Tensor] = None
    ) -> Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        pooled = mean_pool(self.token_embeddings(input_ids, attention_mask, token_type_ids), attention_mask)
        if self.normalize:
            pooled = nn.functional.normalize(pooled, p=2.0, dim=1)
        return pooled


class TextClassifier(nn.Module):
    """A sentence encoder backbone and a linear head: texts → class logits (B, num_classes)."""

    def __init__(self, backbone: SentenceEmbedding, num_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.hidden_size, num_classes)

    def forward(
        self, input_ids: Tensor, attention_mask: Optional[Tensor] = None, token_type_ids: Optional[Tensor] = None
    ) -> Tensor:
        return self.head(self.dropout(self.backbone(input_ids, attention_mask, token_type_ids)))


# Tensors of Hugging Face checkpoints that this encoder has no use for.
_UNUSED = ("pooler.", "lm_head.", "cls.")
_UNUSED_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


def _from_hf(state_dict: dict[str, Any], prefix: str) -> dict[str, Any]:
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix(prefix)
        if key.startswith(_UNUSED) or key in _UNUSED_BUFFERS:
            continue
        # Checkpoints from the TensorFlow era name LayerNorm's parameters gamma / beta.
        key = key.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        out[key] = value
    return out


def from_hf_bert(state_dict: dict[str, Any]) -> dict[str, Any]:
    """A ``transformers`` BertModel checkpoint → :class:`TextEncoder` keys (pooler and buffers dropped)."""
    return _from_hf(state_dict, "bert.")


def from_hf_roberta(state_dict: dict[str, Any]) -> dict[str, Any]:
    """A ``transformers`` RoBERTa checkpoint (``roberta.`` prefix, LM head) → :class:`TextEncoder` keys."""
    return _from_hf(state_dict, "roberta.")
