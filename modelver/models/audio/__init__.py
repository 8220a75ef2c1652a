"""Audio models: Tacotron2 and WaveRNN from torchaudio with versioned weights, and the text-to-speech pipeline.

Builders (``tacotron2``, ``wavernn``, ``tts_tacotron2_wavernn``) are reached through
``modelver.models`` or ``modelver.get_model``; importing this package imports nothing else.
torchaudio is imported when a model is built.
"""
