"""A generated ChestX-ray14-format folder for loader figures (a script, not a test): DIR/
Data_Entry_2017.csv in the NIH columns and DIR/images/*.png, 1024x1024 8-bit grey PNGs like the
NIH release's. GENERATED images, not the NIH data: smooth shapes plus a little noise, so that
they compress to a few hundred KB as the NIH PNGs do (pure noise would not compress at all and
would decode differently). Every figure from such a folder must say so.

    python3 bench/make_chestxray_folder.py DIR [--patients 100] [--per-patient 2]
"""
import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from datagen import CHESTXRAY_FINDINGS, CHESTXRAY_HEADER, png_bytes  # noqa: E402


def picture(rng, size=1024):
    y, x = np.mgrid[0:size, 0:size] / float(size)
    img = 90 + 60 * np.sin(3 * x + rng.rand()) * np.cos(2 * y + rng.rand())
    for _ in range(6):  # soft blobs: "lungs", "heart"
        cx, cy, r = rng.rand(), rng.rand(), 0.08 + 0.2 * rng.rand()
        img += 70 * rng.rand() * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--patients", type=int, default=100)
    ap.add_argument("--per-patient", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.RandomState(0)
    os.makedirs(os.path.join(args.folder, "images"), exist_ok=True)
    lines, k = [CHESTXRAY_HEADER], 0
    for pid in range(1, args.patients + 1):
        for follow in range(args.per_patient):
            name = "%08d_%03d.png" % (pid, follow)
            with open(os.path.join(args.folder, "images", name), "wb") as f:
                f.write(png_bytes(picture(rng)))
            lines.append("%s,%s,%d,%d,50,M,PA,1024,1024,0.143,0.143,"
                         % (name, CHESTXRAY_FINDINGS[k % len(CHESTXRAY_FINDINGS)], follow, pid))
            k += 1
    with open(os.path.join(args.folder, "Data_Entry_2017.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d generated 1024x1024 grey PNGs in %s" % (k, os.path.join(args.folder, "images")))


if __name__ == "__main__":
    main()
