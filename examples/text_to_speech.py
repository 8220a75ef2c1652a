"""The RFC's text-to-speech demo: Tacotron2 + WaveRNN (torchaudio's LJSpeech release) to output/message.wav.

    python examples/text_to_speech.py ["Some text"] [--output output/message.wav]
                                      [--max-decoder-steps N] [--weights CHAR_LJSPEECH]

prints the number of symbols and the mel spectrogram's shape (``38 torch.Size([1, 80, T])``),
then writes a 22.05 kHz mono WAV. The weights (about 130 MB) are downloaded from
download.pytorch.org on first use; to take them from elsewhere (an internal mirror, a
machine without internet) set ``MODELVER_MIRROR=https://host/base``: files are then fetched
from ``base`` + the URL's path (``/torchaudio/models/<file>``). WaveRNN generates one
sample at a time: a few seconds of speech take a minute or two on a CPU.
``--max-decoder-steps`` caps the mel length (and so the audio: 275 samples per step).
"""

import argparse

import torch

from modelver.models import TTS_Tacotron2_WaveRNN_Weights, tts_tacotron2_wavernn
from modelver.models.audio.wav import write_wav

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("text", nargs="?", default="Hello world!")
parser.add_argument("--output", default="output/message.wav")
parser.add_argument("--max-decoder-steps", type=int, default=2000)
parser.add_argument("--weights", default="DEFAULT", help="a TTS_Tacotron2_WaveRNN_Weights entry")
args = parser.parse_args()

# Initialize the pipeline (text processor, Tacotron2 and vocoder of one release)
weights = TTS_Tacotron2_WaveRNN_Weights.verify(args.weights)
model = tts_tacotron2_wavernn(weights=weights, decoder_max_step=args.max_decoder_steps)
model.eval()

# The text processor is the weights' preprocessing transform
preprocess = weights.transforms()
tokens, lengths = preprocess(args.text)

# Infer the spectrogram, then the waveform
with torch.inference_mode():
    mel, mel_lengths, _ = model.tacotron2.infer(tokens, lengths)
    # Show the number of symbols and the spectrogram's shape
    print(weights.meta["n_symbol"], mel.shape)
    print(f"Generating {int(mel_lengths[0]) * weights.meta['hop_length']} samples with WaveRNN ...", flush=True)
    waveform, waveform_lengths = model.vocoder(mel, mel_lengths)

print(f"Saving wave at {args.output}")
write_wav(args.output, waveform[0, : int(waveform_lengths[0])], weights.meta["sample_rate"])
