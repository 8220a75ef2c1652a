"""Text commands: embed."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ModelverError


def similarity_table(sentences: list[str], similarity: Any) -> list[str]:
    """Lines of a cosine-similarity matrix, rows and columns numbered as the sentences."""
    width = 8
    lines = [f"  [{i}] {s}" for i, s in enumerate(sentences, 1)]
    lines.append(" " * 5 + "".join(f"[{j}]".rjust(width) for j in range(1, len(sentences) + 1)))
    for i, row in enumerate(similarity.tolist(), 1):
        lines.append(f"[{i}]".ljust(5) + "".join(f"{value:{width}.4f}" for value in row))
    return lines


def cmd_embed(args: argparse.Namespace) -> int:
    import torch

    from .. import get_model_builder, get_model_weights

    builder = get_model_builder(args.model)
    weights = get_model_weights(builder).verify(args.weights)
    if weights.meta.get("task") != "sentence_embedding":
        raise ModelverError(
            f"`modelver embed` needs a sentence-embedding model; {args.model} is a {weights.meta.get('task')} model. "
            "Try --model minilm_l6."
        )
    if any(not s.strip() for s in args.sentences):
        raise ModelverError("A sentence is empty; pass each sentence as one quoted argument.")
    model = builder(weights=weights, progress=not args.quiet).eval()
    batch = weights.transforms()(args.sentences)
    with torch.inference_mode():
        embeddings = torch.nn.functional.normalize(model(**batch), dim=1)
    print(f"{args.model} ({weights!r}), cosine similarity of {len(args.sentences)} sentences:")
    print("\n".join(similarity_table(args.sentences, embeddings @ embeddings.T)))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("embed", help="embed sentences and print their cosine-similarity matrix")
    p.add_argument("sentences", nargs="+", metavar="SENTENCE")
    p.add_argument("--model", default="minilm_l6", help="a sentence-embedding model (default: minilm_l6)")
    p.add_argument("--weights", default="DEFAULT", help="weights entry name (default: DEFAULT)")
    p.add_argument("--quiet", action="store_true", help="no download progress bar")
    p.set_defaults(func=cmd_embed)
