"""The built-in formats' loaders: a model file → its meta, a runner and the engine's name.

A loader is ``load(model_file, options: LoadOptions) -> Loaded``; the :class:`Format`
registration names it (see :mod:`modelver_export.registry`). ONNX files run on an
:class:`~modelver_export.runtime.engines.Engine` (onnxruntime unless ``options.engine``
names another); TorchScript and ``.pt2`` on torch, imported only here. ``.pt2`` runs in BF16
(``options.precision="bf16"``) under ``torch.autocast``: the unlifted program calls ATen ops
(``aten.conv2d``, ``aten.linear``, ``aten.matmul``) through the dispatcher, so autocast runs
those in BF16 and keeps the preprocessing (resize, normalise) in FP32, as it would for eager;
its 4-d weights are made channels-last, the layout oneDNN's BF16 convolutions are fast in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from modelver.errors import BundleError, first_line

from .._bundle import META_DIGEST_FILE, META_DIGEST_KEY, META_FILE, check_meta_digest

__all__ = ["LoadOptions", "Loaded", "Runner", "load_onnx", "load_pt2", "load_torchscript", "torch_has_bf16"]

#: (feeds, output names, seed or None) → outputs
Runner = Callable[[Mapping[str, np.ndarray], Sequence[str], Optional[int]], list]


@dataclasses.dataclass(frozen=True)
class LoadOptions:
    """How to load: threads (intra-op), spin (onnxruntime), the ONNX engine and its precision, the trust decision."""

    threads: Optional[int] = None
    spin: bool = False
    engine: str = "onnxruntime"
    trust_code: bool = False
    #: "fp32", or "bf16" (ONNX on OpenVINO; ``.pt2`` under torch.autocast)
    precision: str = "fp32"


@dataclasses.dataclass
class Loaded:
    meta: dict[str, Any]
    run: Runner
    engine: str


def load_onnx(path: Path, options: LoadOptions) -> Loaded:
    from ..registry import get_engine

    engine = get_engine(options.engine)(path, options)
    props = dict(engine.metadata())
    digest = props.pop(META_DIGEST_KEY, None)
    try:
        meta = {key: json.loads(value) for key, value in props.items()}
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: metadata_props are not JSON ({exc}); the file was altered, re-export it.") from None
    check_meta_digest(meta, digest, str(path))
    specs = meta.get("inputs") if isinstance(meta.get("inputs"), list) else []
    graph = {info.name for info in engine.inputs()}
    missing = [s.get("name") for s in specs if isinstance(s, dict) and s.get("name") not in graph]
    if missing:
        raise BundleError(f"{path}: the graph has no input {missing[0]!r} that its meta lists; re-export the bundle.")

    def run(feeds: Mapping[str, np.ndarray], outputs: Sequence[str], seed: Optional[int]) -> list[np.ndarray]:
        if seed is not None:
            raise BundleError(
                f"seed= seeds torch's random generator for bundles that sample; {path.name} runs on {options.engine} "
                "and draws no random numbers."
            )
        return engine.run(feeds, outputs)

    return Loaded(meta, run, engine.label)


def _torch_meta(extra: Mapping[str, Any], path: Path) -> dict[str, Any]:
    raw = extra.get(META_FILE) or b""
    digest = extra.get(META_DIGEST_FILE) or b""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if not text:
        raise BundleError(f"{path} has no {META_FILE}: it was not exported by modelver; re-export it.")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: the embedded {META_FILE} is not JSON ({exc}); re-export the bundle.") from None
    check_meta_digest(meta, digest.decode() if isinstance(digest, bytes) else digest or None, str(path))
    return meta


def _import_torch(fmt: str, threads: Optional[int]) -> Any:
    try:
        import torch
    except ImportError:
        raise BundleError(
            f"{fmt} bundles run on torch, which is not installed here: pip install torch (ONNX bundles run without it)."
        ) from None
    if threads:
        torch.set_num_threads(threads)
    return torch


def torch_has_bf16() -> bool:
    """Whether this CPU has BF16 instructions (AVX-512 BF16 or AMX on x86, BF16 on Arm), as torch detects them.

    Without them torch still computes BF16, emulated and slower than FP32: not worth running.
    """
    import torch

    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is None:  # older torch (the public mapping is recent): its private checks
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    found = capabilities()
    return any(found.get(flag) for flag in ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16"))


def _torch_runner(module: Any, bf16: bool = False) -> Runner:
    import torch

    def call(feeds: Mapping[str, np.ndarray]) -> Any:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            return module(*(torch.from_numpy(np.ascontiguousarray(a)) for a in feeds.values()))

    def run(feeds: Mapping[str, np.ndarray], outputs: Sequence[str], seed: Optional[int]) -> list[np.ndarray]:
        if seed is None:
            result = call(feeds)
        else:  # the same draws as eager after torch.manual_seed(seed); the caller's generator is left as it was
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                result = call(feeds)
        results = result if isinstance(result, (tuple, list)) else (result,)
        # numpy has no bfloat16: BF16 outputs (autocast's softmax, last layers) come back as float32, as the meta says
        return [(r.float() if r.dtype == torch.bfloat16 else r).numpy() for r in results][: len(outputs)]

    return run


def load_torchscript(path: Path, options: LoadOptions) -> Loaded:
    torch = _import_torch("TorchScript", options.threads)
    extra = {META_FILE: "", META_DIGEST_FILE: ""}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        try:
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra).eval()
        except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged archive
            raise BundleError(
                f"{path} is not a loadable TorchScript archive (truncated or corrupted?): {first_line(exc)}"
            ) from None
        meta = _torch_meta(extra, path)
        engine = f"torch {torch.__version__} (TorchScript)"
        try:
            # Rewrites the loaded (frozen) module for this machine's kernels: about 20% faster
            # for EfficientNet-Lite0 on CPU, and no slow profiling runs on the first calls.
            module = torch.jit.optimize_for_inference(module)
            engine += ", optimize_for_inference"
        except Exception:  # noqa: BLE001, S110 - depends on the build; the module still runs as saved
            pass
    return Loaded(meta, _torch_runner(module), engine)


def load_pt2(path: Path, options: LoadOptions) -> Loaded:
    torch = _import_torch(".pt2", options.threads)
    bf16 = options.precision == "bf16"
    if bf16 and not torch_has_bf16():
        raise BundleError(
            "precision='bf16' needs a CPU with BF16 instructions (AVX-512 BF16 or AMX); this one has none: use fp32."
        )
    extra = {META_FILE: "", META_DIGEST_FILE: ""}
    try:
        module = torch.export.load(str(path), extra_files=extra).module()
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged archive
        raise BundleError(f"{path} is not a loadable .pt2 program (truncated or corrupted?): {first_line(exc)}") from None
    if bf16:  # oneDNN's BF16 convolutions want channels-last: EfficientNet-Lite0 0.75x FP32 time, ~1.0x without
        module = module.to(memory_format=torch.channels_last)
    label = f"torch {torch.__version__} (torch.export" + (", bf16)" if bf16 else ")")
    return Loaded(_torch_meta(extra, path), _torch_runner(module, bf16), label)
