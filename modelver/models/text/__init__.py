"""Text models: a BERT / RoBERTa encoder that loads Hugging Face checkpoints, sentence embeddings, heads.

Builders (``minilm_l6``, ``minilm_l6_classifier``, ``roberta_base``) are reached through
``modelver.models`` or ``modelver.get_model``; importing this package imports nothing else.
"""
