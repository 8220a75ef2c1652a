"""Build with weights from a warm cache: modelver's builder vs torchvision's (random init, then torch.load + load_state_dict).

Both sides load the same checkpoint file from local disk (a seeded synthetic state_dict with
the real keys and shapes: the real files cannot be downloaded here; pass --weights-dir to
use real ones). Each build runs in a fresh interpreter after its imports; we report the
median time and the peak RSS increase over the post-import baseline, and check that both
models give identical outputs. Targets: resnet50 <= 0.3x, vit_b_16 <= 0.1x torchvision's
time; memory increase <= 1.1x the file size. ``--device cuda``: modelver builds straight onto
the GPU (``with torch.device("cuda")``), torchvision's way is ``builder()`` + load + ``.cuda()``;
memory is then the host RSS increase (GPU memory is not counted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from _common import require_device, run_python, save, table

MODELS = {  # modelver builder: (torchvision builder, weights entry whose meta is used)
    "resnet50": ("resnet50", "ResNet50_Weights.IMAGENET1K_V2"),
    "vit_b_16": ("vit_b_16", "ViT_B_16_Weights.IMAGENET1K_V1"),
}

PRELUDE = """
import json, resource, sys, time, hashlib
import torch, torchvision, modelver
from modelver import Weights, get_weight, get_model
torch.manual_seed(0)
x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
def rss_mb():
    # reset the peak (VmHWM) to the current RSS, so the peak measured next is the build's alone
    open('/proc/self/clear_refs', 'w').write('5')
    return int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize() / 2**20
def peak_mb():
    status = open('/proc/self/status').read()
    return int(status.split('VmHWM:')[1].split()[0]) / 1024
path, digest, name, tv_name, entry, device = sys.argv[1:7]
x = x.to(device)
def sync():
    if device == "cuda":
        torch.cuda.synchronize()
"""

MEASURE = """
peak = peak_mb()
with torch.inference_mode():
    for t in model.state_dict().values():
        t.float().sum()  # read every weight once: memory-mapped pages now count too
used = peak_mb()
with torch.inference_mode():
    out = model.eval()(x).cpu()
print(json.dumps({"time": elapsed, "mem": peak - base, "mem_read": used - base,
                  "out": hashlib.sha256(out.numpy().tobytes()).hexdigest()}))
"""

TORCHVISION = PRELUDE + """
base = rss_mb()
start = time.perf_counter()
model = getattr(torchvision.models, tv_name)()
model.load_state_dict(torch.load(path, weights_only=True))
model = model.to(device)  # torchvision's way onto a GPU: build and load on the CPU, then copy
sync()
elapsed = time.perf_counter() - start
""" + MEASURE

MODELVER = PRELUDE + """
real = get_weight(entry)
weights = Weights(url=path, sha256=digest, transforms=real.transforms, meta=real.meta)
base = rss_mb()
start = time.perf_counter()
with torch.device(device):  # modelver loads the file straight onto the default device
    model = get_model(name, weights=weights)
sync()
elapsed = time.perf_counter() - start
""" + MEASURE

MAKE_CHECKPOINT = """
import sys, torch, torchvision, hashlib
from modelver.testing import synthetic_state_dict
model = getattr(torchvision.models, sys.argv[2])()
torch.save(synthetic_state_dict(model), sys.argv[1])
print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 repeats: a rough figure, faster")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: build onto the GPU")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 2
    require_device(args.device)
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            tv_name, entry = MODELS[name]
            path = Path(tmp) / f"{name}.pth"
            digest = last_line(MAKE_CHECKPOINT, str(path), tv_name)
            size_mb = path.stat().st_size / 2**20
            argv = [str(path), digest, name, tv_name, entry, args.device]
            last_line(MODELVER, *argv)  # warm: verifies the file once, as a cache would
            samples = {"torchvision": [], "modelver": []}
            for _ in range(args.repeat):
                for side, code in (("torchvision", TORCHVISION), ("modelver", MODELVER)):
                    samples[side].append(json.loads(last_line(code, *argv)))
            outs = {s["out"] for side in samples.values() for s in side}
            tv_t = statistics.median(s["time"] for s in samples["torchvision"])
            mv_t = statistics.median(s["time"] for s in samples["modelver"])
            tv_m = statistics.median(s["mem"] for s in samples["torchvision"])
            mv_m = statistics.median(s["mem"] for s in samples["modelver"])
            tv_f = statistics.median(s["mem_read"] for s in samples["torchvision"])
            mv_f = statistics.median(s["mem_read"] for s in samples["modelver"])
            rows.append([
                name, size_mb, tv_t, mv_t, mv_t / tv_t, tv_m / size_mb, mv_m / size_mb, tv_f / size_mb, mv_f / size_mb,
                len(outs) == 1,
            ])
            results[name] = {
                "file_mb": size_mb, "torchvision_s": tv_t, "modelver_s": mv_t, "time_ratio": mv_t / tv_t,
                "torchvision_mem_mb": tv_m, "modelver_mem_mb": mv_m,
                "torchvision_mem_after_read_mb": tv_f, "modelver_mem_after_read_mb": mv_f,
                "outputs_identical": len(outs) == 1,
            }
    print(f"Build with weights (warm cache) onto {args.device}, median of {args.repeat} fresh processes")
    print("mem/file: peak RSS increase over the post-import baseline / checkpoint size, during the build, and")
    print("after reading every weight once (memory-mapped pages count only once they are read)\n")
    print(table(
        ["model", "file MB", "tv s", "mv s", "time ratio", "tv build mem/file", "mv build mem/file",
         "tv read mem/file", "mv read mem/file", "identical"],
        rows,
    ))
    save("build" if args.device == "cpu" else f"build_{args.device}", {
        "device": args.device, "repeat": args.repeat, "results": results,
    })


def last_line(code: str, *argv: str) -> str:
    return run_python(code, *argv).strip().splitlines()[-1]


if __name__ == "__main__":
    main()
