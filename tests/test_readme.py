"""The README's first example (the torchvision blog post's code) runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, subprocess_env


def test_readme_example_classifies_the_cat(tmp_path: Path) -> None:
    from modelver.predict import sample_image

    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    sample_image("chelsea").save(tmp_path / "cat.jpg", quality=95)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=subprocess_env(), timeout=180
    )
    assert result.returncode == 0, result.stderr
    label, percent = result.stdout.strip().rsplit(": ", 1)
    assert label in {"tiger cat", "Egyptian cat", "tabby"} and percent.endswith("%")
