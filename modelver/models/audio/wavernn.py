"""WaveRNN (Kalchbrenner et al., 2018): mel spectrogram → waveform, torchaudio's model and LJSpeech weights.

torchaudio's vocoder release (``examples/pipeline_wavernn``): 8-bit mu-law classes, trained
on LJSpeech for 10,000 epochs, on the mel parameters of the ``*_WAVERNN_*`` Tacotron2 entries.
The weights entry's ``transforms()`` scales a Tacotron2 mel to the input this model was
trained on.
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
from .processing import NormalizeMel
from .tacotron2 import BASE_URL

if TYPE_CHECKING:
    import torchaudio.models as ta_models
else:  # imported when a hint is evaluated (typing.get_type_hints), not when this module is
    ta_models = lazy_module('torchaudio.models')

__all__ = ["WAVERNN_PARAMS", "WaveRNN_Weights", "wavernn"]

# torchaudio.models.WaveRNN's hyper-parameters for this release; 5 * 5 * 11 = hop_length.
WAVERNN_PARAMS: dict[str, Any] = {
    "upsample_scales": [5, 5, 11],
    "n_classes": 2**8,
    "hop_length": 275,
    "n_res_block": 10,
    "n_rnn": 512,
    "n_fc": 512,
    "kernel_size": 5,
    "n_freq": 80,
    "n_hidden": 128,
    "n_output": 128,
}


class WaveRNN_Weights(WeightsEnum):
    LJSPEECH_8BITS = Weights(
        url=f"{BASE_URL}/wavernn_10k_epochs_8bits_ljspeech.pth",
        transforms=partial(NormalizeMel, min_level_db=-100.0),
        meta={
            "task": "vocoder",
            "num_params": 4349613,
            "n_bits": 8,
            "n_classes": 256,
            "mu_law": True,
            "sample_rate": 22050,
            "n_mels": 80,
            "n_fft": 2048,
            "win_length": 1100,
            "hop_length": 275,
            "f_min": 40.0,
            "f_max": 11025.0,
            "min_level_db": -100.0,
            "dataset": "LJSpeech-1.1",
            "epochs": 10000,
            "license": "BSD-2-Clause (torchaudio's release); LJSpeech is in the public domain",
            "recipe": "https://github.com/pytorch/audio/tree/main/examples/pipeline_wavernn",
            "_docs": "The vocoder of torchaudio.pipelines.TACOTRON2_WAVERNN_CHAR_LJSPEECH / _PHONE_LJSPEECH. "
            "Sampling is autoregressive: a few thousand samples per second on a CPU.",
        },
    )
    DEFAULT = LJSPEECH_8BITS


def wavernn_factory(weights: Any, kwargs: dict[str, Any]) -> Callable[[], Any]:
    """A constructor of ``torchaudio.models.WaveRNN`` for ``weights``."""
    from torchaudio.models import WaveRNN

    kwargs = dict(kwargs)
    if weights is not None:
        overwrite_named_param(kwargs, "n_classes", weights.meta["n_classes"])
        overwrite_named_param(kwargs, "hop_length", weights.meta["hop_length"])
        overwrite_named_param(kwargs, "n_freq", weights.meta["n_mels"])
    return partial(WaveRNN, **{**WAVERNN_PARAMS, **kwargs})


@register_model()
@handle_legacy_interface(weights=("pretrained", WaveRNN_Weights.LJSPEECH_8BITS))
def wavernn(*, weights: Optional[WaveRNN_Weights] = None, progress: bool = True, **kwargs: Any) -> ta_models.WaveRNN:
    """WaveRNN from `Efficient Neural Audio Synthesis <https://arxiv.org/abs/1802.08435>`_ (``torchaudio.models.WaveRNN``).

    Args:
        weights: ``WaveRNN_Weights.LJSPEECH_8BITS`` (= ``DEFAULT``), a name, or None for
            random initialisation.
        progress: show a progress bar while downloading the weights.
        **kwargs: passed to ``torchaudio.models.WaveRNN``. torchaudio's deprecated
            ``checkpoint_name=`` is still understood.

    Example::

        weights = WaveRNN_Weights.DEFAULT
        model = wavernn(weights=weights).eval()
        labels, lengths = model.infer(weights.transforms()(tacotron2_mel), mel_lengths)
    """
    weights = WaveRNN_Weights.verify(pop_checkpoint_name(WaveRNN_Weights, kwargs, weights))
    return build_model(wavernn_factory(weights, kwargs), weights, progress)
