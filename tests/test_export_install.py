"""``export/`` installs as ``modelver_export``: nothing named ``export`` lands in site-packages, and a user's
``export.py`` in the working directory changes nothing modelver runs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT, subprocess_env


def test_the_wheel_has_no_top_level_export_and_import_export_fails(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=600, env=subprocess_env(),
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("modelver-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names if "/" in name and ".dist-info" not in name}
    assert tops == {"modelver", "modelver_export"}, tops
    assert "modelver_export/runtime/__init__.py" in names and "modelver_export/registry.py" in names

    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=600, env=subprocess_env(),
    )
    assert install.returncode == 0, install.stderr
    assert not (target / "export").exists() and (target / "modelver_export").is_dir()
    env = subprocess_env()
    env["PYTHONPATH"] = str(target)  # only the wheel's files; numpy etc. from this interpreter's site-packages
    code = (
        "import importlib.util, modelver_export.runtime as rt\n"
        "print(rt.__file__)\n"
        "print(importlib.util.find_spec('export'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    location, spec = result.stdout.splitlines()
    assert location.startswith(str(target)) and spec == "None"


def test_an_export_py_in_the_working_directory_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "export.py ran"
    (tmp_path / "export.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit('user export.py')\n")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # as installed: nothing but the working directory ahead of site-packages
    result = subprocess.run(
        [sys.executable, "-m", "modelver", "export", "efficientnet_lite0", "--format", "onnx", "--out", "lite0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "onnx: parity ok" in result.stdout
    assert (tmp_path / "lite0" / "onnx" / "model.onnx").is_file()
    assert not marker.exists()
