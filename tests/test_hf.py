"""Hugging Face layout: save_pretrained → folder / Hub → from_pretrained, model cards, integrity, enum entries.

No network: "the Hub" is a pre-seeded huggingface_hub cache read with HF_HUB_OFFLINE=1,
and push_to_hub's upload (HfApi.create_repo / upload_folder) is replaced by a fake that
publishes the uploaded files into that cache.
"""

# No `from __future__ import annotations`: builders defined in test functions need real
# annotation objects for the registry to find their weights enum.

import hashlib
import json
import shutil
from functools import partial
from pathlib import Path
from typing import Any, Optional

import pytest
import torch
from conftest import seed_hf_cache
from huggingface_hub import ModelCard
from torch import nn

from modelver import Weights, WeightsEnum, _registry
from modelver.errors import IntegrityError, ModelverError, SourceError, UnknownModelError, WeightsUnavailableError
from modelver.hf import from_pretrained, pretrained_weights, push_to_hub, save_pretrained
from modelver.models import EfficientNet_Lite0_Weights, efficientnet_lite0
from modelver.testing import synthetic_state_dict
from modelver.transforms import ImageClassification

FLOWERS = ["daisy", "dandelion", "rose", "tulip"]
FINETUNED_META = {"categories": FLOWERS, "_metrics": {"Flowers-4": {"acc@1": 91.25, "acc@5": None}}}




@pytest.fixture(scope="module")
def finetuned() -> nn.Module:
    """EfficientNet-Lite0 from its real weights with a new 4-class head, "fine-tuned" (seeded changes)."""
    model = efficientnet_lite0(weights=EfficientNet_Lite0_Weights.DEFAULT, progress=False)
    model.classifier = nn.Linear(1280, len(FLOWERS))
    model.load_state_dict(
        synthetic_state_dict(model, seed=3)
        | {k: v for k, v in model.state_dict().items() if not k.startswith("classifier")}
    )
    return model.eval()


@pytest.fixture(scope="module")
def saved(finetuned: nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_pretrained(
        finetuned, tmp_path_factory.mktemp("repo") / "lite0-flowers", weights=EfficientNet_Lite0_Weights.DEFAULT,
        meta=FINETUNED_META, num_classes=len(FLOWERS),
    )  # fmt: skip


def _same_model(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(a.eval()(x), b.eval()(x))


def test_folder_round_trip_of_a_finetuned_model(finetuned: nn.Module, saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = from_pretrained(saved, progress=False)
    assert type(loaded) is type(finetuned) and loaded.classifier.out_features == 4
    _same_model(finetuned, loaded)

    weights = pretrained_weights(str(saved))
    assert weights.url == str(saved / "model.safetensors")
    assert weights.meta["categories"] == FLOWERS
    assert weights.transforms().crop_size == EfficientNet_Lite0_Weights.DEFAULT.transforms().crop_size


def test_config_records_builder_arguments_base_weights_version_and_digest(finetuned: nn.Module, saved: Path) -> None:
    import modelver

    config = json.loads((saved / "config.json").read_text())
    assert config["builder"] == "efficientnet_lite0" and config["builder_kwargs"] == {"num_classes": 4}
    assert config["weights"] == "EfficientNet_Lite0_Weights.IMAGENET1K_V1"
    assert config["modelver_version"] == modelver.__version__
    assert config["sha256"] == hashlib.sha256((saved / "model.safetensors").read_bytes()).hexdigest()
    meta = config["meta"]
    assert meta["_metrics"] == FINETUNED_META["_metrics"]  # the new weights' own, not the base's ImageNet top-1
    assert meta["num_params"] == sum(p.numel() for p in finetuned.parameters())
    assert meta["license"] == "Apache-2.0" and meta["task"] == "image_classification"  # carried over
    assert "source" not in meta and "_docs" not in meta  # facts about the base file are not


def test_model_card_front_matter_and_text_come_from_meta(saved: Path) -> None:
    card = ModelCard.load(saved / "README.md")
    data = card.data
    assert data.library_name == "modelver" and data.license == "apache-2.0"
    assert {"modelver", "efficientnet_lite0", "image-classification"} <= set(data.tags)
    assert data.pipeline_tag == "image-classification"
    results = [(r.dataset_name, r.metric_type, r.metric_value) for r in data.eval_results]
    assert results == [("Flowers-4", "acc@1", 91.25)]  # unpublished acc@5 (None) left out
    assert "Flowers-4: acc@1 91.25" in card.text and "EfficientNet_Lite0_Weights.IMAGENET1K_V1" in card.text
    assert json.loads((saved / "config.json").read_text())["sha256"] in card.text


def test_tampered_safetensors_are_refused_with_both_digests(saved: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(saved, tmp_path / "copy"))
    expected = json.loads((copy / "config.json").read_text())["sha256"]
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(IntegrityError, match=f"expected {expected}, got {actual}"):
        from_pretrained(copy)


def test_save_refuses_an_architecture_the_builder_would_not_rebuild(finetuned: nn.Module, tmp_path: Path) -> None:
    with pytest.raises(
        ModelverError, match=r"classifier.weight is \(4, 1280\) here but \(1000, 1280\) from efficientnet_lite0\(\)"
    ):
        save_pretrained(finetuned, tmp_path / "x", weights=EfficientNet_Lite0_Weights.DEFAULT)
    with pytest.raises(TypeError, match="cannot be written to config.json"):
        save_pretrained(
            finetuned, tmp_path / "x", weights="EfficientNet_Lite0_Weights.DEFAULT", num_classes=4, norm=nn.BatchNorm2d
        )
    with pytest.raises(ModelverError, match="needs builder="):
        save_pretrained(finetuned, tmp_path / "x")
    with pytest.raises(UnknownModelError, match="not a registered builder"):
        save_pretrained(finetuned, tmp_path / "x", builder=lambda **kw: None)
    assert not (tmp_path / "x").exists()  # nothing written when refused


def test_from_pretrained_says_what_a_location_should_be(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="for a Hugging Face repository write 'hf://org/repo'"):
        from_pretrained("org/repo")
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelverError, match="was not written by modelver's save_pretrained"):
        from_pretrained(tmp_path)


def test_round_trip_through_a_pre_seeded_hugging_face_cache(
    finetuned: nn.Module, saved: Path, isolated_caches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = "a" * 40
    files = {p.name: p.read_bytes() for p in saved.iterdir()}
    seed_hf_cache(isolated_caches, "org/lite0-flowers", commit, files)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for location in ("hf://org/lite0-flowers", f"hf://org/lite0-flowers@{commit}"):
        _same_model(finetuned, from_pretrained(location, progress=False))
    # The weights are pinned to the commit the config came from, even when asked for a branch.
    assert pretrained_weights("hf://org/lite0-flowers").url == f"hf://org/lite0-flowers@{commit}/model.safetensors"
    with pytest.raises(WeightsUnavailableError, match="hf download org/other config.json"):
        from_pretrained("hf://org/other")


class Toy(nn.Module):
    """Tied weights (an output head sharing the embedding), as language models have."""

    def __init__(self, vocab: int = 11, dim: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.embed(ids)))


def test_tied_weights_are_stored_once_and_stay_tied(registry_snapshot: None, tmp_path: Path) -> None:
    @_registry.register_model("hf_test_tied_toy")
    def toy(*, weights: Optional[WeightsEnum] = None, progress: bool = True, **kwargs: Any) -> Toy:
        """Example:: toy()"""
        return Toy(**kwargs)

    model = Toy(vocab=7)
    model.load_state_dict(synthetic_state_dict(model, seed=1))
    folder = save_pretrained(model, tmp_path / "toy", builder="hf_test_tied_toy", vocab=7)
    config = json.loads((folder / "config.json").read_text())
    assert set(config["shared_tensors"].items()) in (
        {("head.weight", "embed.weight")},
        {("embed.weight", "head.weight")},
    )
    loaded = from_pretrained(folder)
    assert loaded.head.weight is loaded.embed.weight
    _same_state = model.state_dict()
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in _same_state.items())
    with pytest.raises(ModelverError, match="saved without weights="):
        pretrained_weights(folder).transforms()


def test_a_library_publishes_new_weights_as_an_enum_entry_on_the_hub(
    registry_snapshot: None, saved: Path, finetuned: nn.Module, isolated_caches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """V2 of a library's enum is a save_pretrained folder pushed to the Hub, pinned by commit and sha256."""
    commit = "b" * 40
    seed_hf_cache(isolated_caches, "org/lite0-flowers", commit, {p.name: p.read_bytes() for p in saved.iterdir()})
    digest = json.loads((saved / "config.json").read_text())["sha256"]
    transforms = partial(ImageClassification, crop_size=224, resize_size=256)

    class Flowers_Weights(WeightsEnum):
        V1 = Weights(
            url=str(saved / "model.safetensors"), sha256=digest, transforms=transforms, meta={"categories": FLOWERS}
        )
        V2 = Weights(
            url=f"hf://org/lite0-flowers@{commit}/model.safetensors",
            sha256=digest,
            transforms=transforms,
            meta={"categories": FLOWERS, "_metrics": FINETUNED_META["_metrics"]},
        )
        DEFAULT = V2

    @_registry.register_model("hf_test_flowers")
    def flowers(*, weights: Optional[Flowers_Weights] = None, progress: bool = True, **kwargs: Any) -> nn.Module:
        """Example:: flowers(weights="DEFAULT")"""
        from modelver._build import build_model

        weights = Flowers_Weights.verify(weights)
        return build_model(partial(efficientnet_lite0, num_classes=len(FLOWERS), **kwargs), weights, progress)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _same_model(finetuned, _registry.get_model("hf_test_flowers", weights="DEFAULT"))
    assert _registry.get_weight("Flowers_Weights.DEFAULT").url.startswith("hf://org/lite0-flowers@bbbb")
    blob = next((isolated_caches / "hf" / "hub" / "models--org--lite0-flowers" / "blobs").glob(digest))
    blob.write_bytes(b"not the published file")
    with pytest.raises(IntegrityError, match=f"expected {digest}"):
        flowers(weights=Flowers_Weights.V2)


class FakeHub:
    """Replaces HfApi's network calls: records them and publishes the upload into the local HF cache."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commits: list[str] = []

    def create_repo(self, api: Any, repo_id: str, **kwargs: Any) -> str:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, api: Any, **kwargs: Any) -> Any:
        from huggingface_hub import CommitInfo

        self.calls.append(("upload_folder", kwargs))
        folder = Path(kwargs["folder_path"])
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name in kwargs["allow_patterns"]}
        commit = hashlib.sha1(b"".join(files.values())).hexdigest()
        self.commits.append(commit)
        seed_hf_cache(self.home, kwargs["repo_id"], commit, files)
        url = f"https://huggingface.co/{kwargs['repo_id']}/commit/{commit}"
        return CommitInfo(commit_url=url, commit_message=kwargs["commit_message"], commit_description="", oid=commit)


@pytest.fixture
def fake_hub(isolated_caches: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    from huggingface_hub import HfApi

    fake = FakeHub(isolated_caches)
    monkeypatch.setattr(HfApi, "create_repo", lambda api, repo_id, **kw: fake.create_repo(api, repo_id, **kw))
    monkeypatch.setattr(HfApi, "upload_folder", lambda api, **kw: fake.upload_folder(api, **kw))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # loading back reads only what the fake published
    return fake


def test_publish_a_finetuned_model_and_load_it_back_one_call_each(finetuned: nn.Module, fake_hub: FakeHub) -> None:
    location = push_to_hub(
        finetuned, "me/lite0-flowers", weights=EfficientNet_Lite0_Weights.DEFAULT, meta=FINETUNED_META,
        num_classes=len(FLOWERS), private=True,
    )  # fmt: skip
    _same_model(finetuned, from_pretrained(location, progress=False))

    (create, created), (upload, uploaded) = fake_hub.calls
    assert create == "create_repo" and created == {"repo_id": "me/lite0-flowers", "private": True, "exist_ok": True}
    assert upload == "upload_folder" and uploaded["repo_id"] == "me/lite0-flowers"
    assert uploaded["commit_message"] == "Upload efficientnet_lite0 weights with modelver 0.1.0"
    assert location == f"hf://me/lite0-flowers@{fake_hub.commits[0]}"
    snapshot = fake_hub.home / "hf" / "hub" / "models--me--lite0-flowers" / "snapshots" / fake_hub.commits[0]
    assert 'from_pretrained("hf://me/lite0-flowers")' in ModelCard.load(snapshot / "README.md").text


def test_push_a_folder_checks_it_before_uploading(saved: Path, tmp_path: Path, fake_hub: FakeHub) -> None:
    location = push_to_hub(saved, "org/lite0-flowers", create_repo=False, revision="v1", commit_message="v1")
    ((_, uploaded),) = fake_hub.calls
    assert uploaded["folder_path"] == str(saved) and uploaded["revision"] == "v1" and uploaded["commit_message"] == "v1"
    assert sorted(uploaded["allow_patterns"]) == ["README.md", "config.json", "model.safetensors"]
    assert location.startswith("hf://org/lite0-flowers@")

    with pytest.raises(TypeError, match="those apply only when pushing a model"):
        push_to_hub(saved, "org/x", num_classes=4)
    with pytest.raises(SourceError, match="not a Hugging Face repository id"):
        push_to_hub(saved, "not a repo id")
    tampered = Path(shutil.copytree(saved, tmp_path / "tampered"))
    (tampered / "model.safetensors").write_bytes(b"changed after saving")
    with pytest.raises(ModelverError, match="does not match config.json"):
        push_to_hub(tampered, "org/x")
    with pytest.raises(ModelverError, match="has no config.json"):
        push_to_hub(tmp_path, "org/x")
    assert len(fake_hub.calls) == 1  # nothing refused reached the Hub


def test_a_base_entry_unknown_here_does_not_stop_loading(saved: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(saved, tmp_path / "copy"))
    config = json.loads((copy / "config.json").read_text())
    config["weights"] = "Retired_Weights.V1"
    (copy / "config.json").write_text(json.dumps(config))
    assert from_pretrained(copy, progress=False).classifier.out_features == 4
    with pytest.raises(ModelverError, match="takes the preprocessing of Retired_Weights.V1"):
        pretrained_weights(copy).transforms()
