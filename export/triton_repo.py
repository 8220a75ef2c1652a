"""A Triton model directory with one numbered version per weights entry, appended to, never rewritten.

    <repository>/<name>/config.pbtxt     version_policy: all (Triton serves every number)
    <repository>/<name>/labels.txt       the categories every version shares
    <repository>/<name>/versions.json    number -> weights entry, version name, sha256 of the model, meta
    <repository>/<name>/bundle.json      the manifest of the newest version (``runtime.load(<name>)``)
    <repository>/<name>/1/model.onnx     version 1, with its own bundle.json (``runtime.load(<name>/1)``)
    <repository>/<name>/2/...

:func:`add_version` moves a freshly exported single-version model directory in as the next
number. A version folder is written once, under a temporary name, and renamed into place
complete: what a number serves never changes. Versions share one config, so an entry whose
inputs, outputs or categories differ from the versions already there is refused.

Pure Python (json, shutil, filelock): ``modelver serve`` reads ``versions.json`` without torch.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelver.errors import BundleError

from ._bundle import file_entry, read_manifest, sha256_file, write_manifest

__all__ = [
    "VERSIONS_FILE",
    "Present",
    "add_version",
    "check_compatible",
    "find_version",
    "meta_version_name",
    "read_versions",
    "version_name",
]

VERSIONS_FILE = "versions.json"
MODEL_FILE = "model.onnx"
_MODEL_LEVEL = ("config.pbtxt", "labels.txt")  # one per model directory, shared by the versions


def version_name(weights_label: str) -> str:
    """``EfficientNet_Lite0_Weights.IMAGENET1K_V1`` → ``IMAGENET1K_V1``; ``Weights(url='.../ft-3.pth')`` → ``ft-3``."""
    custom = re.fullmatch(r"Weights\(url=['\"](.*)['\"]\)", weights_label)
    if custom:
        stem = custom.group(1).rstrip("/").rsplit("/", 1)[-1].split("?")[0]
        return stem.split(".")[0] or weights_label
    return weights_label.rsplit(".", 1)[-1] if "." in weights_label else weights_label


def meta_version_name(meta: Mapping[str, Any]) -> str:
    """The version name of a bundle: its weights entry's name, ``-int8`` added for a quantized export."""
    precision = _variant(meta)[0]
    return version_name(str(meta.get("weights"))) + ("" if precision == "fp32" else f"-{precision}")


def read_versions(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``versions.json`` of a model directory, checked: ``{"model", "default", "versions": {"1": {...}}}``."""
    path = Path(model_dir) / VERSIONS_FILE
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path} does not exist: {model_dir} is not a versioned Triton model directory.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); the version map is corrupted.") from None
    versions = table.get("versions") if isinstance(table, dict) else None
    if not isinstance(versions, dict) or not all(k.isdigit() and isinstance(v, dict) for k, v in versions.items()):
        raise BundleError(f"{path} is not a modelver version map (no 'versions' by number).")
    return table


def _signature(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What every version of one Triton model must share: the task, tensors and categories."""
    return {
        "task": meta.get("task"),
        "inputs": [(s["name"], s["dtype"], s["shape"]) for s in meta.get("inputs", [])],
        "outputs": [(s["name"], s["dtype"], s["shape"]) for s in meta.get("outputs", [])],
        "categories": meta.get("categories"),
    }


def _describe(meta: Mapping[str, Any]) -> str:
    outputs = ", ".join(f"{s['name']} ({', '.join(map(str, s['shape']))})" for s in meta.get("outputs", []))
    categories = meta.get("categories")
    return f"outputs {outputs}" + (f", {len(categories)} categories" if categories else "")


def check_target(model_dir: Path) -> None:
    """Refuse a directory that exists, holds files and is not a versioned model directory: never overwritten."""
    if model_dir.exists() and any(model_dir.iterdir()) and not (model_dir / VERSIONS_FILE).is_file():
        raise BundleError(
            f"{model_dir} exists and is not a versioned modelver Triton model directory (no {VERSIONS_FILE}); "
            "choose another --out or empty it."
        )


def check_compatible(model_dir: Path, meta: Mapping[str, Any], what: str) -> None:
    """Refuse ``meta`` (of the entry named ``what``) unless it can share ``model_dir``'s config."""
    if not (model_dir / VERSIONS_FILE).is_file():
        return
    versions = read_versions(model_dir)["versions"]
    number, entry = max(versions.items(), key=lambda item: int(item[0]))
    theirs = entry.get("meta", {})
    mine, shared = _signature(meta), _signature(theirs)
    if mine != shared:
        differs = [key for key in mine if mine[key] != shared[key]]
        raise BundleError(
            f"{what} cannot be a version of {model_dir}: its {' and '.join(differs)} differ from version {number}'s "
            f"({_describe(meta)} vs {_describe(theirs)}). Versions of one Triton model share one config; "
            "export it to another --out (another model repository)."
        )


def _variant(meta: Mapping[str, Any]) -> tuple[str, Any, Any]:
    """(precision, method, calibration sha256): an INT8 export of an entry is another version than its FP32 one."""
    quantization = meta.get("quantization")
    if not isinstance(quantization, Mapping):
        return ("fp32", None, None)
    calibration = quantization.get("calibration")
    digest = calibration.get("sha256") if isinstance(calibration, Mapping) else None
    return (str(quantization.get("precision")), quantization.get("method"), digest)


def _same_weights(entry: Mapping[str, Any], meta: Mapping[str, Any]) -> bool:
    """Same weights entry (label and file sha256), exported the same way (precision, quantization recipe)."""
    return (
        entry.get("weights") == meta.get("weights")
        and entry.get("source_sha256") == meta.get("source_sha256")
        and _variant(entry.get("meta") or {}) == _variant(meta)
    )


@dataclasses.dataclass
class Present:
    """A version already in a model directory: its number, folder, size in bytes and parity report."""

    number: int
    path: Path
    size: int
    parity: dict[str, Any]


def find_version(model_dir: Path, weights_label: str, source_sha256: str | None) -> Present | None:
    """The FP32 version of ``model_dir`` exported from this weights entry (label and file sha256), if there is one."""
    if not (model_dir / VERSIONS_FILE).is_file():
        return None
    wanted = {"weights": weights_label, "source_sha256": source_sha256}  # an FP32 export's meta has no quantization
    for number, entry in read_versions(model_dir)["versions"].items():
        if _same_weights(entry, wanted):
            manifest = read_manifest(model_dir / number)
            size = sum(f["size"] for f in manifest["files"].values())
            return Present(int(number), model_dir / number, size, manifest.get("parity") or {})
    return None


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _version_config(staged_config: str) -> str:
    """The staged single-version config, serving every version of the directory."""
    if "version_policy" in staged_config:
        return staged_config
    return staged_config.replace('backend: "onnxruntime"\n', 'backend: "onnxruntime"\nversion_policy: { all { } }\n', 1)


def add_version(model_dir: str | os.PathLike[str], staged: str | os.PathLike[str]) -> tuple[int, bool]:
    """Move the model directory ``staged`` (one exported version, ``1/model.onnx``) in as ``model_dir``'s next number.

    Returns (number, added): when the same weights entry (label and source sha256), exported the
    same way (FP32, or INT8 with the same recipe and calibration set), is already a version,
    nothing is written and its number comes back with ``added`` False.
    """
    from filelock import FileLock

    model_dir, staged = Path(model_dir), Path(staged)
    manifest = read_manifest(staged)
    meta = manifest["meta"]
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(model_dir.parent / f".{model_dir.name}.lock")):
        check_target(model_dir)
        table = read_versions(model_dir) if (model_dir / VERSIONS_FILE).is_file() else {"versions": {}}
        for number, entry in table["versions"].items():
            if _same_weights(entry, meta):
                return int(number), False
        check_compatible(model_dir, meta, str(meta.get("weights")))
        number = max((int(n) for n in table["versions"]), default=0) + 1
        while (model_dir / str(number)).exists():  # a folder nobody listed: never overwritten
            number += 1
        model_dir.mkdir(parents=True, exist_ok=True)

        # the version folder: written complete under a temporary name, then renamed to its number
        shared = {*_MODEL_LEVEL, manifest["model_file"]}
        extras = [name for name in manifest["files"] if name not in shared]
        incomplete = model_dir / f".{number}.incomplete"
        shutil.rmtree(incomplete, ignore_errors=True)
        incomplete.mkdir()
        shutil.copyfile(staged / manifest["model_file"], incomplete / MODEL_FILE)
        for name in extras:
            shutil.copyfile(staged / name, incomplete / name)
        version_manifest = {
            **manifest,
            "model_file": MODEL_FILE,
            "files": {name: file_entry(incomplete, name) for name in (MODEL_FILE, *extras)},
            "triton": {"model": model_dir.name, "version": number},
        }
        write_manifest(incomplete, version_manifest)
        os.rename(incomplete, model_dir / str(number))

        # the model-level files: the shared config and labels, the version map, the newest version's manifest
        for name in _MODEL_LEVEL:
            if (staged / name).is_file():
                text = (staged / name).read_text(encoding="utf-8")
                _replace_text(model_dir / name, _version_config(text) if name == "config.pbtxt" else text)
        for name in extras:
            shutil.copyfile(staged / name, model_dir / name)
        model_sha = sha256_file(model_dir / str(number) / MODEL_FILE)
        table["model"] = model_dir.name
        table["default"] = number  # what Triton serves when a request names no version: the highest
        table["versions"][str(number)] = {
            "name": meta_version_name(meta),
            "weights": meta.get("weights"),
            "source_sha256": meta.get("source_sha256"),
            "sha256": model_sha,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "meta": meta,
        }
        _replace_text(model_dir / VERSIONS_FILE, json.dumps(table, indent=2, ensure_ascii=False) + "\n")
        files = [name for name in _MODEL_LEVEL if (model_dir / name).is_file()]
        files += [VERSIONS_FILE, f"{number}/{MODEL_FILE}", *extras]
        write_manifest(
            model_dir,
            {**manifest, "model_file": f"{number}/{MODEL_FILE}", "files": {f: file_entry(model_dir, f) for f in files}},
        )
    return number, True
