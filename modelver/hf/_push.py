"""push_to_hub: upload a repository folder (or a model, saved first) with huggingface_hub."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import ModelverError, SourceError
from ._common import CARD_NAME, CONFIG_NAME, _read_config
from ._save import save_pretrained


def push_to_hub(
    source: Any,
    repo_id: str,
    *,
    revision: str | None = None,
    commit_message: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    create_repo: bool = True,
    **save_kwargs: Any,
) -> str:
    """Upload a save_pretrained folder (or save ``source``, a model, first) to the Hugging Face Hub.

    Args:
        source: a folder written by :func:`save_pretrained`, or a model; then ``save_kwargs``
            (``weights=``, ``builder=``, ``meta=``, builder arguments) go to save_pretrained.
        repo_id: ``"org/name"``.
        revision: the branch to commit to (default: the repository's default branch).
        commit_message, private, token: as huggingface_hub's ``HfApi``.
        create_repo: create the repository if it does not exist.

    Returns the pinned location of the upload, ``hf://org/name@<commit>``: give it to
    :func:`from_pretrained`, or add ``/model.safetensors`` for a ``Weights`` url.

    Example::

        location = push_to_hub(model, "me/lite0-flowers", weights=EfficientNet_Lite0_Weights.DEFAULT,
                               meta={"categories": FLOWERS}, num_classes=10)
        model = from_pretrained(location)
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise SourceError(f"{repo_id!r} is not a Hugging Face repository id like 'org/name': {exc}") from None
    if isinstance(source, (str, Path)):
        if save_kwargs:
            raise TypeError(
                f"push_to_hub got a folder and save_pretrained arguments ({', '.join(save_kwargs)}): "
                "those apply only when pushing a model."
            )
        return _upload(HfApi(token=token), Path(source), repo_id, revision, commit_message, private, create_repo)
    with tempfile.TemporaryDirectory(prefix="modelver-push-") as tmp:
        folder = save_pretrained(source, tmp, repo_id=repo_id, **save_kwargs)
        return _upload(HfApi(token=token), folder, repo_id, revision, commit_message, private, create_repo)


def _upload(
    api: Any, folder: Path, repo_id: str, revision: str | None, message: str | None, private: bool | None, create: bool
) -> str:
    from ..store._integrity import sha256_of

    config_path = folder / CONFIG_NAME
    if not config_path.is_file():
        raise ModelverError(f"{folder} has no {CONFIG_NAME}: write it with modelver.hf.save_pretrained first.")
    config = _read_config(config_path, str(folder))
    weights_path = folder / config["weights_file"]
    if not weights_path.is_file():
        raise ModelverError(f"{folder} has no {config['weights_file']}: write it with save_pretrained again.")
    digest = sha256_of(weights_path)
    if digest != config["sha256"]:
        raise ModelverError(
            f"{weights_path} does not match {CONFIG_NAME} (sha256 expected {config['sha256']}, got {digest}): "
            "it changed after save_pretrained; save again instead of publishing it."
        )
    if create:
        api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        commit_message=message or f"Upload {config['builder']} weights with modelver {__version__}",
        revision=revision,
        allow_patterns=[CONFIG_NAME, config["weights_file"], CARD_NAME],
    )
    return f"hf://{repo_id}@{info.oid}"
