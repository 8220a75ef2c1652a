"""RoBERTa base (Liu et al., 2019): the RFC's text encoder, from Facebook AI's checkpoint on the Hugging Face Hub.

The Hub file is a ``RobertaForMaskedLM`` checkpoint: its ``roberta.`` prefix is stripped and
the LM head dropped when loading, leaving the 12-layer encoder, which returns one 768-d
vector per token. The tokenizer is the GPT-2 byte-level BPE of the same revision.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Optional

from ..._build import build_model
from ..._legacy import handle_legacy_interface
from ..._registry import register_model
from ..._weights import Weights, WeightsEnum
from .encoder import TextEncoder, from_hf_roberta
from .tokenizer import tokenizer_beside

__all__ = ["RoBERTa_Base_Weights", "roberta_base"]

_CONFIG = {
    "vocab_size": 50265, "hidden_size": 768, "num_layers": 12, "num_heads": 12, "intermediate_size": 3072,
    "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1, "positions_from_padding": True,
    "layer_norm_eps": 1e-5,
}
_URL = "hf://FacebookAI/roberta-base@e2da8e2f811d1448a5b465c236feacd80ffbac7b/model.safetensors"


class RoBERTa_Base_Weights(WeightsEnum):
    MLM_ENGLISH_V1 = Weights(
        url=_URL,
        transforms=partial(tokenizer_beside, (_URL,), max_length=512, pad_token="<pad>"),
        state_dict_adapter=from_hf_roberta,
        meta={
            "task": "text_encoding",
            "num_params": 124055040,
            "embedding_size": 768,
            "max_length": 512,
            "tokenizer": "GPT-2 byte-level BPE, cased (tokenizer.json of the same revision)",
            "license": "mit",
            "source": "https://huggingface.co/FacebookAI/roberta-base",
            "recipe": "https://github.com/facebookresearch/fairseq/tree/main/examples/roberta",
            "_docs": "Pre-trained with masked language modelling on 160 GB of English text (BookCorpus, "
            "Wikipedia, CC-News, OpenWebText, Stories). The checkpoint has no pooler; its LM head is dropped. "
            "sha256 unpublished here: the file is checked by the Hub's own revision pinning.",
        },
    )
    DEFAULT = MLM_ENGLISH_V1


@register_model()
@handle_legacy_interface(weights=("pretrained", RoBERTa_Base_Weights.MLM_ENGLISH_V1))
def roberta_base(*, weights: Optional[RoBERTa_Base_Weights] = None, progress: bool = True, **kwargs: Any) -> TextEncoder:
    """RoBERTa base from `RoBERTa: A Robustly Optimized BERT Pretraining Approach <https://arxiv.org/abs/1907.11692>`_.

    Returns the encoder: token ids (B, L) → contextual embeddings (B, L, 768).

    Args:
        weights: ``RoBERTa_Base_Weights.MLM_ENGLISH_V1`` (= ``DEFAULT``), a name, or None for
            random initialisation. The file comes from the Hugging Face Hub (cached by
            huggingface_hub; ``HF_HUB_OFFLINE=1`` uses the cache only).
        progress: show a progress bar while fetching the weights.
        **kwargs: passed to ``TextEncoder`` (``dropout``, ``attention_dropout``, ...).

    Example::

        weights = RoBERTa_Base_Weights.DEFAULT
        model = roberta_base(weights=weights).eval()
        hidden = model(**weights.transforms()("Hello World!"))  # (1, 5, 768)
    """
    weights = RoBERTa_Base_Weights.verify(weights)
    return build_model(partial(TextEncoder, **{**_CONFIG, **kwargs}), weights, progress)
