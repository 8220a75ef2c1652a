"""Tacotron2 (Shen et al., 2018): text → mel spectrogram, torchaudio's model with torchaudio's LJSpeech weights.

Four releases of torchaudio's recipe (``examples/pipeline_tacotron2``), all trained on
LJSpeech for 1,500 epochs: characters or phonemes as input, and mel parameters matching
either the WaveRNN vocoder or Griffin-Lim. The weights are torchaudio's published files;
their full sha256 is not published (and their names carry no hash prefix).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..._build import build_model
from ..._legacy import handle_legacy_interface
from ..._registry import register_model
from ..._weights import Weights, WeightsEnum, overwrite_named_param
from .._lazy import lazy_module
from ._checkpoint_names import pop_checkpoint_name
from .processing import CHARACTERS, CharacterProcessor, PhonemeProcessor

if TYPE_CHECKING:
    import torchaudio.models as ta_models
else:  # imported when a hint is evaluated (typing.get_type_hints), not when this module is
    ta_models = lazy_module('torchaudio.models')

__all__ = ["BASE_URL", "TACOTRON2_PARAMS", "Tacotron2_Weights", "tacotron2"]

BASE_URL = "https://download.pytorch.org/torchaudio/models"

# torchaudio.models.Tacotron2's hyper-parameters for these releases (n_symbol comes from the weights).
TACOTRON2_PARAMS: dict[str, Any] = {
    "mask_padding": False,
    "n_mels": 80,
    "n_frames_per_step": 1,
    "symbol_embedding_dim": 512,
    "encoder_embedding_dim": 512,
    "encoder_n_convolution": 3,
    "encoder_kernel_size": 5,
    "decoder_rnn_dim": 1024,
    "decoder_max_step": 2000,
    "decoder_dropout": 0.1,
    "decoder_early_stopping": True,
    "attention_rnn_dim": 1024,
    "attention_hidden_dim": 128,
    "attention_location_n_filter": 32,
    "attention_location_kernel_size": 31,
    "attention_dropout": 0.1,
    "prenet_dim": 256,
    "postnet_n_convolution": 5,
    "postnet_kernel_size": 5,
    "postnet_embedding_dim": 512,
    "gate_threshold": 0.5,
}
N_PHONEMES = 96  # torchaudio's CMUDict phoneme table: 12 punctuation symbols and 84 ARPAbet phonemes

_COMMON = {
    "license": "BSD-2-Clause (torchaudio's release); LJSpeech is in the public domain",
    "dataset": "LJSpeech-1.1",
    "epochs": 1500,
    "sample_rate": 22050,
    "n_mels": 80,
    "recipe": "https://github.com/pytorch/audio/tree/main/examples/pipeline_tacotron2",
}
_FOR_WAVERNN = {"n_fft": 2048, "win_length": 1100, "hop_length": 275, "f_min": 40.0, "f_max": 11025.0}
_FOR_GRIFFIN_LIM = {"n_fft": 1024, "win_length": 1024, "hop_length": 256, "f_min": 0.0, "f_max": 8000.0}
_CHARS = {"text": "characters", "n_symbol": len(CHARACTERS), "num_params": 28136833}
_PHONES = {"text": "phonemes (DeepPhonemizer, CMUDict)", "n_symbol": N_PHONEMES, "num_params": 28166529}


def _entry(file: str, transforms: Callable[..., Any], **meta: Any) -> Weights:
    return Weights(url=f"{BASE_URL}/{file}", transforms=transforms, meta={"task": "text_to_mel", **_COMMON, **meta})


class Tacotron2_Weights(WeightsEnum):
    CHAR_WAVERNN_LJSPEECH = _entry(
        "tacotron2_english_characters_1500_epochs_wavernn_ljspeech.pth",
        CharacterProcessor,
        **_CHARS,
        **_FOR_WAVERNN,
        vocoder="WaveRNN_Weights.LJSPEECH_8BITS",
        _docs="The acoustic model of torchaudio.pipelines.TACOTRON2_WAVERNN_CHAR_LJSPEECH.",
    )
    PHONE_WAVERNN_LJSPEECH = _entry(
        "tacotron2_english_phonemes_1500_epochs_wavernn_ljspeech.pth",
        PhonemeProcessor,
        **_PHONES,
        **_FOR_WAVERNN,
        vocoder="WaveRNN_Weights.LJSPEECH_8BITS",
        _docs="The acoustic model of torchaudio.pipelines.TACOTRON2_WAVERNN_PHONE_LJSPEECH; its text "
        "processor needs `pip install deep-phonemizer`.",
    )
    CHAR_LJSPEECH = _entry(
        "tacotron2_english_characters_1500_epochs_ljspeech.pth",
        CharacterProcessor,
        **_CHARS,
        **_FOR_GRIFFIN_LIM,
        vocoder="griffin_lim",
        _docs="The acoustic model of torchaudio.pipelines.TACOTRON2_GRIFFINLIM_CHAR_LJSPEECH (default recipe "
        "parameters; use torchaudio.transforms.GriffinLim as the vocoder).",
    )
    PHONE_LJSPEECH = _entry(
        "tacotron2_english_phonemes_1500_epochs_ljspeech.pth",
        PhonemeProcessor,
        **_PHONES,
        **_FOR_GRIFFIN_LIM,
        vocoder="griffin_lim",
        _docs="The acoustic model of torchaudio.pipelines.TACOTRON2_GRIFFINLIM_PHONE_LJSPEECH; its text "
        "processor needs `pip install deep-phonemizer`.",
    )
    DEFAULT = CHAR_WAVERNN_LJSPEECH


def tacotron2_factory(weights: Any, kwargs: dict[str, Any]) -> Callable[[], Any]:
    """A constructor of ``torchaudio.models.Tacotron2`` for ``weights`` (None: the character set)."""
    from torchaudio.models import Tacotron2

    kwargs = dict(kwargs)
    if weights is not None:
        overwrite_named_param(kwargs, "n_symbol", weights.meta["n_symbol"])
        overwrite_named_param(kwargs, "n_mels", weights.meta["n_mels"])
    return partial(Tacotron2, **{**TACOTRON2_PARAMS, "n_symbol": len(CHARACTERS), **kwargs})


@register_model()
@handle_legacy_interface(weights=("pretrained", Tacotron2_Weights.CHAR_WAVERNN_LJSPEECH))
def tacotron2(*, weights: Optional[Tacotron2_Weights] = None, progress: bool = True, **kwargs: Any) -> ta_models.Tacotron2:
    """Tacotron2 from `Natural TTS Synthesis by Conditioning WaveNet on Mel Spectrogram Predictions
    <https://arxiv.org/abs/1712.05884>`_: symbol ids → 80-band mel spectrogram (``torchaudio.models.Tacotron2``).

    Args:
        weights: a ``Tacotron2_Weights`` entry (``DEFAULT`` = ``CHAR_WAVERNN_LJSPEECH``), a
            name, or None for random initialisation (character symbol set).
        progress: show a progress bar while downloading the weights.
        **kwargs: passed to ``torchaudio.models.Tacotron2`` (e.g. ``decoder_max_step``).
            torchaudio's deprecated ``checkpoint_name=`` is still understood.

    Example::

        weights = Tacotron2_Weights.DEFAULT
        model = tacotron2(weights=weights).eval()
        tokens, lengths = weights.transforms()("Hello world!")
        mel, mel_lengths, alignments = model.infer(tokens, lengths)
    """
    weights = Tacotron2_Weights.verify(pop_checkpoint_name(Tacotron2_Weights, kwargs, weights))
    return build_model(tacotron2_factory(weights, kwargs), weights, progress)
