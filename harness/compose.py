"""compose.yaml from the catalog: one service per image with the mounts `dlbench bench` gives
its containers (tasks read-only, data read-only, a writable results folder, no network, the
caller's uid), plus a `<image>-gpu` service in the `gpu` profile with the GPU reservation.

    python -m harness.compose > compose.yaml      (make compose.yaml)
"""
import sys

from . import catalog

HEADER = """\
# Generated from images/*/Dockerfile by `make compose.yaml` (python -m harness.compose); not
# committed, never edited by hand. The containers `dlbench bench` starts, to run a task by hand:
#
#   dlbench build pytorch-2.13
#   DLBENCH_UID=$(id -u) DLBENCH_GID=$(id -g) docker-compose run --rm pytorch-2.13 \\
#       python3 /tasks/run.py cnn --adapter pytorch --synthetic --epochs 1 \\
#       --out /results/result.json
#
# GPU services (the equivalent of --gpus all) are in the `gpu` profile:
#   docker-compose --profile gpu run --rm pytorch-2.13-gpu python3 /tasks/run.py ... --device gpu
# Results land in ${DLBENCH_OUT:-./results/compose}; data comes from ${DLBENCH_DATA:-./data}.

x-dlbench-run: &run
  network_mode: none
  user: "${DLBENCH_UID:-0}:${DLBENCH_GID:-0}"
  working_dir: /tmp
  volumes:
    - ./tasks:/tasks:ro
    - ${DLBENCH_DATA:-./data}:/data:ro
    - ${DLBENCH_OUT:-./results/compose}:/results

x-dlbench-gpu: &gpu
  deploy:
    resources:
      reservations:
        devices:
          - driver: nvidia
            count: all
            capabilities: [gpu]

services:
"""


def render(images=None):
    images = catalog.discover() if images is None else images
    out = [HEADER]
    for img in images:
        out.append("  %s:\n    <<: *run\n    image: %s\n" % (img.name, img.tag))
        if "gpu" in img.devices:
            out.append("  %s-gpu:\n    <<: [*run, *gpu]\n    image: %s\n    profiles: [gpu]\n"
                       % (img.name, img.tag))
    return "".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
