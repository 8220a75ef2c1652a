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
from ..triton_repo import VERSIONS_FILE, meta_version_name, read_versions, version_name

__all__ = ["VERSIONS_FILE", "Model", "Version", "discover", "version_name"]


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
        model, meta_version_name({"weights": path.name, **meta}), str(path), manifest["format"], meta, number
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


def _bare_file(path: Path, load_options: Mapping[str, Any]) -> Version:
    from ..runtime import load

    bundle = load(path, **load_options)
    return Version(
        str(bundle.meta.get("name") or path.stem),
        meta_version_name({"weights": path.stem, **bundle.meta}),
        str(path),
        bundle.format,
        bundle.meta,
    )


def _versions_at(path: Path, load_options: Mapping[str, Any]) -> list[Version]:
    if path.is_file():
        return [_bare_file(path, load_options)]
    if not path.is_dir():
        raise BundleError(f"{path} does not exist; give bundle directories, Triton repositories or model files.")
    if (path / VERSIONS_FILE).is_file():
        return _triton_versions(path)
    if (path / MANIFEST).is_file():
        return [_bundle_version(path, read_manifest(path))]
    inner = [
        p for p in sorted(path.iterdir()) if p.is_dir() and ((p / VERSIONS_FILE).is_file() or (p / MANIFEST).is_file())
    ]
    if not inner:
        raise BundleError(f"{path} holds no bundle (no {MANIFEST} in it or in its folders).")
    return [version for p in inner for version in _versions_at(p, load_options)]


def discover(
    paths: Iterable[str | Path], load_options: Mapping[str, Any] | None = None, *, check: bool = True
) -> dict[str, Model]:
    """Model name → :class:`Model` for what ``paths`` hold; the first version given of a model is its
    default, except for Triton repositories, where the highest number is (as Triton serves it).

    ``load_options``: what ``modelver_export.runtime.load`` is given (``trust_code``, ``engine``,
    ``threads``). ``check``: load every version once here (sha256 of its files, what its model file
    really is, whether it runs code and is trusted), so a bad bundle is refused before anything is deployed.
    """
    from ..runtime import load

    options = dict(load_options or {})
    models: dict[str, Model] = {}
    for given in paths:
        for version in _versions_at(Path(given).resolve(), options):  # replicas have their own working dir
            if check:
                load(version.path, **options)
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
