"""The Ray Serve application behind ``modelver serve``: a V2 ingress and a multiplexed model deployment.

``V2Ingress`` (one replica, no CPU reserved) answers HTTP: it routes, parses and checks each
request against the version's meta, and sends the arrays to ``Models`` through a handle
with ``multiplexed_model_id="<model>/<version>"``, so Ray Serve routes each request to a
replica that already holds that version. ``Models`` (N replicas) loads a version on first
use with ``modelver_export.runtime.load`` (``@serve.multiplexed``: at most K versions per
replica, least recently used unloaded first) and runs it with the bundle's own methods.

This module imports Ray; nothing else in modelver does (``modelver serve`` imports it when run).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any

from ray import serve
from ray.exceptions import RayActorError
from starlette.requests import Request
from starlette.responses import Response

from modelver.errors import BundleError, first_line

from ._catalog import Model
from .predict import parse_predict, predict, top_k
from .protocol import ProtocolError, error_body, infer_response, model_metadata, parse_infer, version_metadata

__all__ = ["APP_NAME", "build_app"]

APP_NAME = "modelver"
_MODEL_ROUTE = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?(?:/(ready|infer|predict))?/?$")
_RETRIES = 3  # a request whose replica died is sent again (to a live one): inference has no side effects


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def build_app(
    models: Mapping[str, Model],
    *,
    replicas: int = 1,
    max_models_per_replica: int = 4,
    load_options: Mapping[str, Any] | None = None,
    cpus_per_replica: float = 1.0,
) -> Any:
    """The Serve application (``serve.run`` it) serving every version of ``models``; each replica loads
    a version with ``modelver_export.runtime.load(path, **load_options)``, and runs whatever that returns."""
    options = dict(load_options or {})
    paths = {v.key: v.path for model in models.values() for v in model.versions.values()}

    @serve.deployment(num_replicas=replicas, ray_actor_options={"num_cpus": cpus_per_replica})
    class Models:
        """Runs versions; loads each on demand, keeps at most ``max_models_per_replica`` (LRU)."""

        def __init__(self) -> None:
            self.paths = paths

        @serve.multiplexed(max_num_models_per_replica=max_models_per_replica)
        async def bundle(self, key: str) -> Any:
            from ..runtime import load

            return await asyncio.to_thread(load, self.paths[key], **options)

        async def _call(self, work: Any, *args: Any) -> dict[str, Any]:
            key = serve.get_multiplexed_model_id()
            try:
                bundle = await self.bundle(key)
            except BundleError as exc:  # checked at deploy time; changed on disk since
                return {"error": f"{key} cannot be loaded: {first_line(exc)}", "status": 503}
            try:
                return {"result": await asyncio.to_thread(work, bundle, *args)}
            except BundleError as exc:  # the input does not fit the model: the client's mistake
                return {"error": first_line(exc), "status": 400}

        async def infer(self, arrays: dict[str, Any], outputs: list[str]) -> dict[str, Any]:
            return await self._call(lambda bundle: {n: a for n, a in bundle.run(arrays).items() if n in outputs})

        async def predict(self, payload: Any, topk: int) -> dict[str, Any]:
            return await self._call(predict, payload, topk)

    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class V2Ingress:
        """HTTP: Open Inference Protocol v2 routes, JSON errors, retries on a dead replica."""

        def __init__(self, runner: Any) -> None:
            self.runner = runner
            self.models = dict(models)

        async def __call__(self, request: Request) -> Response:
            try:
                return await self._route(request)
            except ProtocolError as exc:
                return _json(error_body(exc.message), exc.status)
            except Exception as exc:  # noqa: BLE001 - the service answers and keeps serving, never a traceback
                return _json(error_body(f"Internal error: {first_line(exc)}"), 500)

        async def _route(self, request: Request) -> Response:
            path, method = request.url.path, request.method
            if path.rstrip("/") == "/v2":
                return _json({"name": "modelver", "extensions": [], "models": sorted(self.models)})
            if path in ("/v2/health/live", "/v2/health/ready"):
                return _json({"live": True} if path.endswith("live") else {"ready": True})
            if path.rstrip("/") == "/v2/models":
                return _json({"models": [model_metadata(m) for m in self.models.values()]})
            match = _MODEL_ROUTE.match(path)
            if match is None:
                raise ProtocolError(404, f"No route {path}; see /v2/models for what this service serves.")
            name, ref, action = match.groups()
            model = self.models.get(name)
            if model is None:
                raise ProtocolError(404, f"Unknown model {name!r}; this service serves {sorted(self.models)}.")
            try:
                version = model.version(ref)
            except KeyError:
                raise ProtocolError(404, f"Unknown version {ref!r} of {name!r}; it has {model.labels}.") from None
            want = "POST" if action in ("infer", "predict") else "GET"
            if method != want:
                raise ProtocolError(405, f"{path} takes {want}, not {method}.")
            if action is None:
                return _json(version_metadata(version) if ref else model_metadata(model))
            if action == "ready":
                return _json({"name": name, "ready": True})
            body = await request.body()
            if action == "infer":
                request_id, arrays, outputs = parse_infer(body, version)
                answer = await self._send(version.key, "infer", arrays, outputs)
                return _json(infer_response(version, request_id, answer, outputs))
            payload = parse_predict(body, request.headers.get("content-type", ""), version)
            answer = await self._send(version.key, "predict", payload, top_k(request.query_params.get("topk")))
            label = str(version.number) if version.number is not None else version.name
            return _json({"model_name": name, "model_version": label, **answer})

        async def _send(self, key: str, method: str, *args: Any) -> Any:
            handle = getattr(self.runner.options(multiplexed_model_id=key), method)
            for attempt in range(_RETRIES):
                try:
                    answer = await handle.remote(*args)
                    break
                except RayActorError:
                    if attempt == _RETRIES - 1:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
            if "error" in answer:
                raise ProtocolError(answer["status"], answer["error"])
            return answer["result"]

    return V2Ingress.bind(Models.bind())
