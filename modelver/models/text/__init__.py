"""Text models: a BERT / RoBERTa encoder that loads Hugging Face checkpoints, sentence embeddings, heads.

``from modelver.models.text import minilm_l6, MiniLM_L6_Weights`` (also reachable from
``modelver.models`` and ``modelver.get_model``): like :mod:`modelver.models`, builders and enums
are found through the manifest and their module is imported on first access.
"""

from .._lazy import lazy_exports as _lazy_exports

__getattr__, __dir__ = _lazy_exports(__name__, globals())
