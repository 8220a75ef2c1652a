"""The ONNX graphs we export are the fast ones: BatchNorm folded, no per-call shape plumbing.

Without onnxscript's optimiser the dynamo exporter writes each BatchNorm as
``BatchNormalization`` fed through ``CastLike`` / ``Expand`` nodes; onnxruntime then cannot
fold it into the convolution nor fuse the activation, and the model runs 1.3x (ResNet-50) to
3x (EfficientNet-Lite0) slower (benchmarks/bench_bundles.py). Timing is not asserted here:
the graph's node types are, and its numbers against eager.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch
from modelver_export import _torch_export
from modelver_export._torch_export import export_onnx
from torch import nn

from modelver.testing import synthetic_state_dict

SLOW_OPS = {"BatchNormalization", "CastLike", "Expand"}


def _net() -> nn.Module:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU6(inplace=True),
        nn.Conv2d(8, 8, 3, stride=2, groups=8, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )
    net.load_state_dict(synthetic_state_dict(net))
    return net.eval()


@pytest.mark.parametrize("fx_fold", [True, False], ids=["fx-folded", "optimiser-only"])
def test_exported_graph_has_batchnorm_folded_and_matches_eager(fx_fold: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not fx_fold:  # a model torch.fx cannot trace reaches the exporter unfolded: the optimiser must fold it
        monkeypatch.setattr(_torch_export, "fold_batchnorm", lambda module: module)
    net = _net()
    proto = export_onnx(
        net,
        (torch.zeros(2, 3, 16, 16),),
        input_names=["x"],
        output_names=["y"],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        opset=18,
    )
    ops = {node.op_type for node in proto.graph.node}
    assert not ops & SLOW_OPS, f"slow nodes left in the exported graph: {sorted(ops & SLOW_OPS)}"
    assert "Conv" in ops

    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.inference_mode():
        want = net(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # exporting turns in-place activations off while tracing only: the caller's model is left as it was
    assert all(m.inplace for m in net.modules() if isinstance(m, (nn.ReLU, nn.ReLU6)))
