"""The README's first two examples run as printed: torch.hub from a checkout, then the blog post's code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, subprocess_env
from hub_checkout import make_hub_checkout, run_hub

CATS = {"tiger cat", "Egyptian cat", "tabby"}


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


@pytest.fixture
def cat_dir(tmp_path: Path) -> Path:
    from modelver.predict import sample_image

    work = tmp_path / "work"
    work.mkdir()
    sample_image("chelsea").save(work / "cat.jpg", quality=95)
    return work


def test_readme_first_example_is_torch_hub_and_classifies_the_cat(cat_dir: Path, tmp_path: Path) -> None:
    code = _python_blocks()[0]
    assert 'torch.hub.load("org/modelver", "efficientnet_lite0", weights="DEFAULT")' in code
    torch_home = tmp_path / "torch"
    make_hub_checkout(torch_home)  # what torch.hub downloads; the test machine is offline
    result = run_hub(code, torch_home, cat_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] in CATS


def test_readme_blog_post_example_classifies_the_cat(cat_dir: Path) -> None:
    code = _python_blocks()[1]
    assert "from modelver.models import efficientnet_lite0" in code
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cat_dir, capture_output=True, text=True, env=subprocess_env(), timeout=180
    )
    assert result.returncode == 0, result.stderr
    label, percent = result.stdout.strip().rsplit(": ", 1)
    assert label in CATS and percent.endswith("%")
