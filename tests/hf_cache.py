"""Pre-seed a Hugging Face cache the way huggingface_hub lays it out, for hf:// tests without network.

models--org--name/blobs/<sha256> holds the bytes; snapshots/<commit>/<path> links to the blob;
refs/main names the commit.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def seed_hf_cache(hub_cache: Path, repo: str, revision: str, files: dict[str, bytes]) -> Path:
    """Write ``files`` (path in repo → bytes) into ``hub_cache`` (``$HF_HUB_CACHE``); returns the snapshot dir."""
    repo_dir = hub_cache / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / revision
    for name, data in files.items():
        blob = repo_dir / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    return snapshot


def byte_level_bpe_json(texts: list[str] | tuple[str, ...] = ("Hello World!", "Hello there, World.")) -> str:
    """A small GPT-2-style byte-level BPE tokenizer.json (300 tokens) trained on ``texts``, with RoBERTa's
    special tokens (ids 0-4: <s> <pad> </s> <unk> <mask>) and post-processor: what roberta-base's repository
    holds, small enough to seed a Hub cache with."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts) * 20, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return tok.to_str()
