"""docs/models.md is generated from the weights' meta, deterministic, current, and its code runs."""

# No `from __future__ import annotations`: the test builders need real annotation objects.

import re
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from conftest import ROOT

from modelver import Weights, WeightsEnum, _registry
from modelver._modeldocs import render_models_page
from modelver.cli import main
from modelver.cli.docs import render
from modelver.transforms import ImageClassification

PAGE = ROOT / "docs" / "models.md"


def test_committed_models_page_is_current() -> None:
    """`make docs` (modelver docs) regenerates it; this fails when a model or its meta changed without it."""
    assert PAGE.read_text(encoding="utf-8") == render(), "docs/models.md is stale: run `make docs` and commit it"


def test_cli_writes_the_page_and_check_reports_a_stale_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "models.md"
    assert main(["docs", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == PAGE.read_text(encoding="utf-8")
    assert main(["docs", "--output", str(target), "--check"]) == 0
    target.write_text(target.read_text(encoding="utf-8").replace("75.1", "76.0"), encoding="utf-8")
    capsys.readouterr()
    assert main(["docs", "--output", str(target), "--check"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"modelver: error: {target} is out of date: run `modelver docs` (or `make docs`) and commit it."]


def test_usage_snippet_in_the_page_runs() -> None:
    snippet = re.search(r"### `efficientnet_lite0`\n\n```python\n(.*?)```", PAGE.read_text(), re.DOTALL).group(1)
    local_part = snippet.split("# or, from a checkout")[0]  # the torch.hub line is tested in test_hubconf
    namespace: dict[str, Any] = {}
    exec(local_part, namespace)  # noqa: S102 - our own generated docs
    assert namespace["model"].training is False
    assert namespace["preprocess"].crop_size == 224


class Doc_Weights(WeightsEnum):
    OLD = Weights(
        url="https://example.invalid/doc-old.pth",
        transforms=ImageClassification,
        meta={"task": "image_classification", "license": "MIT", "_metrics": {"Set": {"top1": 70.0, "top5": None}},
              "_deprecated": "use NEW | it is better", "num_params": 1234567, "_ops": 1.5, "_file_size": 4.25},
    )  # fmt: skip
    NEW = Weights(
        url="hf://org/doc@0123/model.safetensors",
        transforms=ImageClassification,
        meta={
            "task": "image_classification",
            "license": "MIT",
            "_metrics": {"Set": {"top1": 72.5}},
            "source": "trained by us",
        },
    )
    DEFAULT = NEW


class Seg_Weights(WeightsEnum):
    V1 = Weights(url="/tmp/seg.pth", transforms=ImageClassification, meta={"task": "semantic_segmentation"})
    DEFAULT = V1


@pytest.fixture
def doc_builders() -> Iterator[dict[str, Any]]:
    def doc_net(*, weights: Optional[Doc_Weights] = None, progress: bool = True, **kwargs: Any) -> Any:
        """Example:: doc_net()"""

    def seg_net(*, weights: Optional[Seg_Weights] = None, progress: bool = True, **kwargs: Any) -> Any:
        """Example:: seg_net()"""

    def plain_net(**kwargs: Any) -> Any:
        """Example:: plain_net()"""

    yield {"seg_net": seg_net, "plain_net": plain_net, "doc_net": doc_net}


def test_page_has_a_table_per_task_with_every_entry_default_marked(doc_builders: dict[str, Any]) -> None:
    page = render_models_page(doc_builders, "org/modelver")
    assert page == render_models_page(dict(reversed(list(doc_builders.items()))), "org/modelver")  # order-independent
    headings = re.findall(r"^## (.*)$", page, re.MULTILINE)
    assert headings == ["Image classification", "Semantic segmentation", "Without pre-trained weights"]
    rows = [line for line in page.splitlines() if line.startswith("| `doc_net`")]
    assert rows == [
        "| `doc_net` | `Doc_Weights.OLD` (deprecated) | Set: top1 70.0 | 1,234,567 | 1.5 | 4.25 MB | MIT | https:// |",
        "| `doc_net` | `Doc_Weights.NEW` **(DEFAULT)** | Set: top1 72.5 |  |  |  | MIT | trained by us |",
    ]
    assert "- `Doc_Weights.OLD`: use NEW \\| it is better" in page  # notes, with table syntax escaped
    assert "| `plain_net` | none |" in page and "model = plain_net()  # random initialisation" in page
    assert 'torch.hub.load("org/modelver", "seg_net", weights="DEFAULT")' in page


def test_docs_of_the_package_cover_only_its_own_models() -> None:
    def user_registered_net(**kwargs: Any) -> Any:
        """Example:: user_registered_net()"""

    saved = dict(_registry._BUILDERS)
    _registry.register_model()(user_registered_net)  # registered by a user's module, not modelver.models
    try:
        assert "user_registered_net" in _registry.list_models()
        assert "user_registered_net" not in render()
    finally:
        _registry._BUILDERS.clear()
        _registry._BUILDERS.update(saved)
