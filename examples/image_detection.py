"""The model-versioning RFC's detection demo on modelver: labelled boxes saved to output/object-detection.jpg.

Faster R-CNN ResNet-50-FPN with ``FasterRCNN_ResNet50_FPN_Weights.DEFAULT`` (COCO_V1, box mAP
37.0) finds objects in a photo; the category names come from the weights' meta and the boxes
are drawn with ``torchvision.utils.draw_bounding_boxes``. The weights (160 MB) download from
download.pytorch.org on first use. Without network and without the file in the cache, the
script says so in one line (with where to put the file) and exits with status 1.

Run: python examples/image_detection.py [IMAGE] [--checkpoint FILE] [--threshold 0.8]
     IMAGE defaults to scikit-image's photo of a cat. --checkpoint loads your own Faster R-CNN
     checkpoint with COCO's 91 categories instead (trained with today's code). To use the
     COCO_V1 file itself offline, copy it into the cache as the error message says: it was
     trained with an older FrozenBatchNorm2d eps that only the COCO_V1 entry restores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torchvision.io import read_image
from torchvision.transforms.functional import to_pil_image
from torchvision.utils import draw_bounding_boxes

from modelver import Weights
from modelver.errors import WeightsError
from modelver.models.detection import FasterRCNN_ResNet50_FPN_Weights, fasterrcnn_resnet50_fpn

OUTPUT = Path("output") / "object-detection.jpg"


def read_photo(path: str | None) -> torch.Tensor:
    if path is not None:
        return read_image(path)
    from skimage import data

    return torch.from_numpy(data.chelsea().copy()).permute(2, 0, 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default=None)
    parser.add_argument("--checkpoint", default=None, help="your own COCO-category Faster R-CNN checkpoint")
    parser.add_argument("--threshold", type=float, default=0.8, help="minimum score of a drawn box")
    args = parser.parse_args(argv)
    if args.image is not None and not Path(args.image).is_file():
        print(f"image_detection.py: {args.image} does not exist.", file=sys.stderr)
        return 1
    img = read_photo(args.image)

    # Initialize model with the best available weights (or yours, with the same meta)
    weights = FasterRCNN_ResNet50_FPN_Weights.DEFAULT
    if args.checkpoint is not None:
        weights = Weights(url=args.checkpoint, transforms=weights.transforms, meta=weights.meta)
    try:
        model = fasterrcnn_resnet50_fpn(weights=weights, box_score_thresh=args.threshold)
    except WeightsError as exc:
        print(f"image_detection.py: no weights, no detection: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    model.eval()

    # Initialize the inference transforms and apply them
    preprocess = weights.transforms()
    batch = [preprocess(img)]

    # Make predictions; use the meta to name them
    with torch.inference_mode():
        prediction = model(batch)[0]
    labels = [weights.meta["categories"][i] for i in prediction["labels"]]
    for label, score, box in zip(labels, prediction["scores"].tolist(), prediction["boxes"].tolist()):
        print(f"{score:6.1%}  {label}  [{', '.join(str(round(v)) for v in box)}]")

    box = draw_bounding_boxes(img, boxes=prediction["boxes"], labels=labels, colors="red", width=4)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    to_pil_image(box.detach()).save(OUTPUT)
    print(f"{len(labels)} object(s) with score >= {args.threshold}; saved {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
