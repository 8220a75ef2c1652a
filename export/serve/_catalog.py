"""Which models and versions a list of bundle paths serves: plain Python, no Ray, nothing loaded.

A path is a bundle directory (one version: its weights entry), a Triton model directory
with ``versions.json`` (one version per number), a folder of those (a Triton model
repository, or several bundles), or a bare ``.onnx`` file. Bundles of the same model
name become versions of one model; a version is named after its weights entry
(``IMAGENET1K_V1``; a custom ``Weights`` entry by its file's stem), and a Triton version
answers to its number too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from modelver.errors import BundleError

from .._bundle import MANIFEST, read_manifest
from ..triton_repo import VERSIONS_FILE, read_versions, version_name

__all__ = ["CODE_FORMATS", "VERSIONS_FILE", "Model", "Version", "discover", "version_name"]

#: Formats whose model file carries code (TorchScript, torch.export programs): served only when trusted.
CODE_FORMATS = ("torchscript", "pt2")


@dataclasses.dataclass(frozen=True)
class Version:
    """One servable version: what ``modelver_export.runtime.load`` takes, and its meta."""

    model: str
    name: str
    path: str
    format: str
    meta: Mapping[str, Any]
    number: int | None = None

    @property
    def key(self) -> str:
        """The multiplexed model id: one loaded session per key."""
        return f"{self.model}/{self.name}"

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return list(self.meta.get("inputs") or [])

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return list(self.meta.get("outputs") or [])


@dataclasses.dataclass
class Model:
    """A model name and its versions; ``default`` answers requests that name no version."""

    name: str
    versions: dict[str, Version] = dataclasses.field(default_factory=dict)
    default: str = ""

    def version(self, ref: str | None) -> Version:
        """The version named ``ref`` (a weights entry name or a Triton number), or the default."""
        if ref is None or ref == "":
            return self.versions[self.default]
        if ref in self.versions:
            return self.versions[ref]
        for version in self.versions.values():
            if version.number is not None and str(version.number) == ref:
                return version
        raise KeyError(ref)

    @property
    def labels(self) -> list[str]:
        """Versions as V2 metadata lists them: Triton numbers where the model came from a repository, else names."""
        return [str(v.number) if v.number is not None else v.name for v in self.versions.values()]


def _bundle_version(path: Path, manifest: Mapping[str, Any], number: int | None = None) -> Version:
    meta = manifest["meta"]
    model = str(meta.get("name") or manifest.get("name") or path.name)
    return Version(
        model, version_name(str(meta.get("weights", path.name))), str(path), manifest["format"], meta, number
    )


def _triton_versions(directory: Path) -> list[Version]:
    """Every numbered version of a Triton model directory written by ``--format triton``."""
    versions = []
    entries = read_versions(directory)["versions"]
    for number in sorted(entries, key=int):
        if not (directory / number).is_dir():
            raise BundleError(
                f"{directory / VERSIONS_FILE} lists version {number}, which is not a folder of {directory}."
            )
        version = _bundle_version(directory / number, read_manifest(directory / number), int(number))
        versions.append(dataclasses.replace(version, model=directory.name))
    return versions


def _bare_file(path: Path) -> Version:
    from ..runtime import load  # reads the meta embedded in the file (onnxruntime), runs nothing

    bundle = load(path)
    return Version(
        str(bundle.meta.get("name") or path.stem),
        version_name(str(bundle.meta.get("weights", path.stem))),
        str(path),
        bundle.format,
        bundle.meta,
    )


def _refuse_code(path: str | Path, fmt: str) -> None:
    raise BundleError(
        f"{path} is a {fmt} bundle: its model file carries code that runs when loaded. "
        "Serve ONNX bundles, or pass --trust-code if you trust where this file came from."
    )


def _versions_at(path: Path, trust_code: bool) -> list[Version]:
    if path.is_file():
        if path.suffix in (".pt", ".pt2") and not trust_code:  # loading it to read its meta would run it
            _refuse_code(path, "TorchScript" if path.suffix == ".pt" else ".pt2")
        return [_bare_file(path)]
    if not path.is_dir():
        raise BundleError(f"{path} does not exist; give bundle directories, Triton repositories or .onnx files.")
    if (path / VERSIONS_FILE).is_file():
        return _triton_versions(path)
    if (path / MANIFEST).is_file():
        return [_bundle_version(path, read_manifest(path))]
    inner = [
        p for p in sorted(path.iterdir()) if p.is_dir() and ((p / VERSIONS_FILE).is_file() or (p / MANIFEST).is_file())
    ]
    if not inner:
        raise BundleError(f"{path} holds no bundle (no {MANIFEST} in it or in its folders).")
    return [version for p in inner for version in _versions_at(p, trust_code)]


def discover(paths: Iterable[str | Path], *, trust_code: bool = False) -> dict[str, Model]:
    """Model name → :class:`Model` for what ``paths`` hold; the first version given of a model is its
    default, except for Triton repositories, where the highest number is (as Triton serves it)."""
    models: dict[str, Model] = {}
    for given in paths:
        for version in _versions_at(Path(given).resolve(), trust_code):  # replicas have their own working dir
            if version.format in CODE_FORMATS and not trust_code:
                _refuse_code(version.path, version.format)
            model = models.setdefault(version.model, Model(version.model))
            if version.name in model.versions:
                raise BundleError(
                    f"Version {version.name!r} of {version.model!r} is given twice ({model.versions[version.name].path} "
                    f"and {version.path}); serve one bundle per weights entry."
                )
            model.versions[version.name] = version
            if not model.default or version.number is not None:
                model.default = version.name
    if not models:
        raise BundleError("Nothing to serve: give at least one bundle directory or Triton repository.")
    return models
