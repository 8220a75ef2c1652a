"""The RFC's text demo: encode a sentence with RoBERTa base and print its size and output shape.

    python examples/text_encoding.py ["Some text"]

prints ``124055040 torch.Size([1, 5, 768])`` (the RFC printed ``125000000`` from a rounded
meta). RoBERTa's weights come from the Hugging Face Hub (``hf://FacebookAI/roberta-base``);
where they cannot be had (no network and not in the Hugging Face cache) the demo says so
and runs the same code on all-MiniLM-L6-v2, whose weights install offline with modelver
(its output is one 384-d sentence embedding: ``torch.Size([1, 384])``).
"""

import sys

import torch

from modelver.errors import WeightsUnavailableError
from modelver.models import MiniLM_L6_Weights, RoBERTa_Base_Weights, minilm_l6, roberta_base

text = sys.argv[1] if len(sys.argv) > 1 else "Hello World!"

# Initialize the model with the best available weights
try:
    weights = RoBERTa_Base_Weights.DEFAULT
    model = roberta_base(weights=weights)
except WeightsUnavailableError as exc:
    print(f"RoBERTa's weights are not available ({str(exc).split('. ')[0]}); using MiniLM-L6 instead.")
    weights = MiniLM_L6_Weights.DEFAULT
    model = minilm_l6(weights=weights)
model.eval()

# Initialize the tokenizer of the same release
tokenizer = weights.transforms()

# Tokenize and apply the model
with torch.inference_mode():
    output = model(**tokenizer(text))

# Show the number of parameters and the output shape
print(weights.meta["num_params"], output.shape)
