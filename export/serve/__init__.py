"""Serve bundles over HTTP with Ray Serve, speaking the Open Inference Protocol v2.

    from modelver_export.serve import deploy
    url, models = deploy(["bundles/lite0/triton"], replicas=2, port=8000)   # then curl url + "/v2/models"

or ``modelver serve BUNDLE_OR_REPO... [--replicas N] [--port P] [--address RAY_ADDRESS]``.
Needs ``pip install modelver[serve]``; importing this package does not import Ray (only
``deploy`` does, and :mod:`.app`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from modelver.errors import ModelverError, first_line

from ._catalog import Model, Version, discover

__all__ = ["INSTALL_HINT", "Model", "Version", "deploy", "discover", "import_ray"]

INSTALL_HINT = "pip install 'modelver[serve]'"


def import_ray() -> Any:
    """``ray``, or one clear error saying how to install it."""
    try:
        import ray
        from ray import serve  # noqa: F401 - the extra brings both
    except ImportError:
        raise ModelverError(f"Serving and batch runs use Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


def connect(address: str | None, **init_options: Any) -> Any:
    """Ray, connected: to ``address`` (an existing cluster, ``ray://`` or ``HOST:PORT``), else to the instance
    already running in this process, else a new local instance of its own (never a cluster that happens to run
    on this machine)."""
    ray = import_ray()
    if not ray.is_initialized():
        try:
            ray.init(address=address or "local", **init_options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            hint = (
                " (a cluster with token authentication also needs RAY_AUTH_MODE=token and its token in "
                "~/.ray/auth_token or RAY_AUTH_TOKEN)"
                if address
                else ""
            )
            raise ModelverError(f"Cannot connect to {where}: {first_line(exc)}{hint}") from None
    return ray


def deploy(
    paths: Sequence[str | os.PathLike[str]],
    *,
    replicas: int = 1,
    port: int = 8000,
    host: str = "127.0.0.1",
    address: str | None = None,
    trust_code: bool = False,
    max_models_per_replica: int = 4,
    threads: int | None = None,
    engine: str = "auto",
    precision: str = "fp32",
    cpus_per_replica: float = 1.0,
) -> tuple[str, dict[str, Model]]:
    """Deploy every version found in ``paths`` as the Serve application ``modelver``; returns (base URL, models).

    Args:
        paths: bundle directories, Triton model repositories (every numbered version) or ``.onnx`` files.
        replicas: replicas of the model deployment; each loads versions on demand (at most
            ``max_models_per_replica``, least recently used unloaded first).
        port, host: where Serve's HTTP proxy listens (a cluster-wide Serve setting: set when
            Serve starts on the cluster, kept after).
        address: an existing Ray cluster; None connects to the Ray instance of this process, or starts one.
        trust_code: also serve TorchScript and ``.pt2`` bundles (their files run code when loaded).
        threads: intra-op threads of each loaded version (None: the engine's default).
        engine: ONNX bundles: the inference engine ``load`` runs them on (``"auto"``: as ``load`` picks it;
            ``registry.register_engine`` adds others).
        precision: ``"fp32"`` or ``"bf16"`` (ONNX on OpenVINO, ``.pt2`` under torch.autocast), as ``load`` takes it.
        cpus_per_replica: CPUs Ray reserves for each replica.
    """
    if replicas < 1:
        raise ModelverError(f"--replicas must be at least 1, got {replicas}.")
    if max_models_per_replica < 1:
        raise ModelverError(f"--max-models-per-replica must be at least 1, got {max_models_per_replica}.")
    load_options = {"threads": threads, "engine": engine, "trust_code": trust_code, "precision": precision}
    models = discover([os.fspath(p) for p in paths], load_options)  # a bad bundle fails before Ray starts
    connect(address)
    from ray import serve

    from .app import APP_NAME, build_app

    serve.start(http_options={"host": host, "port": port})
    app = build_app(
        models,
        replicas=replicas,
        max_models_per_replica=max_models_per_replica,
        load_options=load_options,
        cpus_per_replica=cpus_per_replica,
    )
    serve.run(app, name=APP_NAME, route_prefix="/")
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}", models
