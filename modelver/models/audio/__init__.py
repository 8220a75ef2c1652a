"""Audio models: Tacotron2 and WaveRNN from torchaudio with versioned weights, and the text-to-speech pipeline.

``from modelver.models.audio import tacotron2, Tacotron2_Weights`` (also reachable from
``modelver.models`` and ``modelver.get_model``): builders and enums are found through the
manifest and their module is imported on first access; torchaudio when a model is built.
"""

from .._lazy import lazy_exports as _lazy_exports

__getattr__, __dir__ = _lazy_exports(__name__, globals())
