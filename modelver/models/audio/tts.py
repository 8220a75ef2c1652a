"""Text-to-speech pipeline: text processor → Tacotron2 → WaveRNN vocoder, one weights entry per release.

Each entry of :class:`TTS_Tacotron2_WaveRNN_Weights` names the Tacotron2 and WaveRNN
entries of one torchaudio release (``torchaudio.pipelines.TACOTRON2_WAVERNN_*_LJSPEECH``),
so one entry reproduces the whole chain: ``weights.transforms()`` is its text processor,
the builder loads both models, ``weights.get_state_dict()`` returns both state_dicts under
the pipeline's module names (``tacotron2.*``, ``vocoder.model.*``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..._build import build_model
from ..._legacy import handle_legacy_interface
from ..._registry import register_model
from ..._weights import Weights, WeightsEnum
from ...lockfile import _active as _lock
from .._lazy import lazy_module
from .processing import CharacterProcessor, PhonemeProcessor
from .tacotron2 import Tacotron2_Weights, tacotron2_factory
from .wavernn import WaveRNN_Weights, wavernn_factory

if TYPE_CHECKING:
    from . import _modules as tts_modules
else:  # imported when a hint is evaluated (typing.get_type_hints), not when this module is
    tts_modules = lazy_module('modelver.models.audio._modules')

__all__ = ["TTS_Tacotron2_WaveRNN_Weights", "tts_tacotron2_wavernn"]


def _pipeline(acoustic: Tacotron2_Weights, vocoder: WaveRNN_Weights, transforms: Any, name: str) -> Weights:
    a, v = acoustic.value, vocoder.value
    meta = {
        "task": "text_to_speech",
        "acoustic_weights": repr(acoustic),
        "vocoder_weights": repr(vocoder),
        "num_params": a.meta["num_params"] + v.meta["num_params"],
        "text": a.meta["text"],
        "n_symbol": a.meta["n_symbol"],
        "sample_rate": v.meta["sample_rate"],
        **{key: v.meta[key] for key in ("n_mels", "hop_length", "n_classes", "min_level_db")},
        "license": a.meta["license"],
        "source": f"torchaudio.pipelines.{name}",
        # Like url, the acoustic model's (torchvision's schema has one recipe link per entry).
        "recipe": a.meta["recipe"],
        "_docs": "url is the Tacotron2 file; the WaveRNN file is the vocoder entry's, trained with "
        f"{v.meta['recipe']}.",
    }
    return Weights(url=a.url, sha256=a.sha256, mirrors=a.mirrors, transforms=transforms, meta=meta)


class TTS_Tacotron2_WaveRNN_Weights(WeightsEnum):
    CHAR_LJSPEECH = _pipeline(
        Tacotron2_Weights.CHAR_WAVERNN_LJSPEECH, WaveRNN_Weights.LJSPEECH_8BITS, CharacterProcessor,
        "TACOTRON2_WAVERNN_CHAR_LJSPEECH",
    )
    PHONE_LJSPEECH = _pipeline(
        Tacotron2_Weights.PHONE_WAVERNN_LJSPEECH, WaveRNN_Weights.LJSPEECH_8BITS, PhonemeProcessor,
        "TACOTRON2_WAVERNN_PHONE_LJSPEECH",
    )
    DEFAULT = CHAR_LJSPEECH

    def get_state_dict(self, progress: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Both files of the release, keyed by the pipeline's module names."""
        self.warn_if_deprecated()
        pinned = _lock.pinned_weights(self)  # under a lock file pinning another entry: LockError
        acoustic = Tacotron2_Weights.verify(self.meta["acoustic_weights"])
        vocoder = WaveRNN_Weights.verify(self.meta["vocoder_weights"])
        # the entry's url is the Tacotron2 file: a pin of this entry holds that file to its sha256 and size
        # (the WaveRNN file is checked against its own entry, and its own pin where the lock has one)
        pinned_file = {} if pinned is None else _lock.expected(self)
        with _lock.explain_integrity(self):
            acoustic_state = acoustic.get_state_dict(progress, **{**kwargs, **pinned_file})
        state_dict = {f"tacotron2.{k}": t for k, t in acoustic_state.items()}
        state_dict.update({f"vocoder.model.{k}": t for k, t in vocoder.get_state_dict(progress, **kwargs).items()})
        return state_dict


@register_model()
@handle_legacy_interface(weights=("pretrained", TTS_Tacotron2_WaveRNN_Weights.CHAR_LJSPEECH))
def tts_tacotron2_wavernn(
    *, weights: Optional[TTS_Tacotron2_WaveRNN_Weights] = None, progress: bool = True, **kwargs: Any
) -> tts_modules.TextToSpeech:
    """Text to speech: Tacotron2 and the WaveRNN vocoder of one torchaudio release, as one module.

    The model maps symbol ids (from ``weights.transforms()``) to
    ``(waveform, waveform_lengths, mel, mel_lengths)`` at ``model.sample_rate``.

    Args:
        weights: ``TTS_Tacotron2_WaveRNN_Weights.CHAR_LJSPEECH`` (= ``DEFAULT``),
            ``PHONE_LJSPEECH`` (its text processor needs ``pip install deep-phonemizer``),
            a name, or None for random initialisation. A custom ``Weights`` is one file
            holding the pipeline's whole state_dict.
        progress: show a progress bar while downloading the weights.
        **kwargs: passed to ``torchaudio.models.Tacotron2`` (e.g. ``decoder_max_step``, the
            longest mel spectrogram to generate).

    Example::

        weights = TTS_Tacotron2_WaveRNN_Weights.DEFAULT
        model = tts_tacotron2_wavernn(weights=weights).eval()
        tokens, lengths = weights.transforms()("Hello world!")
        waveform, waveform_lengths, mel, mel_lengths = model(tokens, lengths)
    """
    from ._modules import TextToSpeech, WaveRNNVocoder

    weights = TTS_Tacotron2_WaveRNN_Weights.verify(weights)
    make_tacotron2 = tacotron2_factory(weights, kwargs)
    make_wavernn = wavernn_factory(weights, {})
    min_level_db = -100.0 if weights is None else weights.meta["min_level_db"]
    sample_rate = 22050 if weights is None else weights.meta["sample_rate"]

    def factory() -> tts_modules.TextToSpeech:
        return TextToSpeech(make_tacotron2(), WaveRNNVocoder(make_wavernn(), min_level_db), sample_rate)

    return build_model(factory, weights, progress)
