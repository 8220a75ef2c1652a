"""Export EfficientNet-Lite0 to an ONNX bundle, run it on onnxruntime, compare with eager PyTorch.

The end of `make demo`. The bundle carries its own preprocessing (resize, crop, normalise)
and categories, so it is given the photo's raw uint8 pixels and nothing else.

    python examples/export_and_run.py [--out DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from modelver_export import export_model
from modelver_export.runtime import load

from modelver.models import EfficientNet_Lite0_Weights, efficientnet_lite0
from modelver.predict import sample_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="output/bundles/efficientnet_lite0")
    args = parser.parse_args()

    weights = EfficientNet_Lite0_Weights.DEFAULT
    model = efficientnet_lite0(weights=weights).eval()
    preprocess = weights.transforms()

    print("\nExporting efficientnet_lite0 to ONNX (preprocessing in the graph) ...")
    start = time.perf_counter()
    (result,) = export_model(
        "efficientnet_lite0", weights=weights, formats="onnx", out=args.out, model=model, progress=None
    )
    total = time.perf_counter() - start
    print(
        f"exported in {result.seconds:.1f} s, parity checked in {result.parity['seconds']:.1f} s "
        f"({total:.1f} s in all): {result.path / 'model.onnx'} ({result.size / 2**20:.1f} MiB)"
    )

    bundle = load(result.path)  # onnxruntime and numpy only
    categories = weights.meta["categories"]
    for name in ("chelsea", "coffee"):
        image = sample_image(name)
        pixels = np.asarray(image).transpose(2, 0, 1)[None].copy()  # uint8 (1, 3, H, W)
        with torch.inference_mode():
            eager = model(preprocess(image).unsqueeze(0)).softmax(-1)[0].numpy()
        onnx = bundle.run({"images": pixels})["probabilities"][0]
        print(f"\n{name} ({image.width}x{image.height}): top-5, eager PyTorch vs the ONNX bundle on {bundle.engine}")
        print(f"  {'category':<22} {'eager':>8} {'onnx':>8}")
        for i in np.argsort(-eager)[:5]:
            print(f"  {categories[i]:<22} {eager[i]:8.2%} {onnx[i]:8.2%}")
        print(f"  max |difference| over all {len(categories)} probabilities: {np.abs(eager - onnx).max():.1e}")


if __name__ == "__main__":
    main()
