"""compose.yaml from the catalog: one service per image with the mounts `dlbench bench` gives
its containers (tasks read-only, data read-only, a writable results folder, no network, the
caller's uid), plus a `<image>-gpu` service in the `gpu` profile with the GPU reservation.

    python -m harness.images.compose > compose.yaml      (make compose.yaml)
"""
import sys

from ..core import catalog
from ..containers import hardening

HEADER = """\
# Generated from images/*/Dockerfile by `make compose.yaml` (python -m harness.images.compose) and
# committed; never edited by hand (tests/unit/images/test_catalog_compose.py fails when it is
# stale). The containers `dlbench bench` starts, to run a task by hand:
#
#   dlbench build pytorch-2.13
#   DLBENCH_UID=$(id -u) DLBENCH_GID=$(id -g) docker-compose run --rm pytorch-2.13 \\
#       python3 /tasks/run.py cnn --adapter pytorch --synthetic --epochs 1 \\
#       --out /results/result.json
#
# GPU services (the equivalent of --gpus all) are in the `gpu` profile:
#   docker-compose --profile gpu run --rm pytorch-2.13-gpu python3 /tasks/run.py ... --device gpu
# Results land in ${DLBENCH_OUT:-./results/compose}; data comes from ${DLBENCH_DATA:-./data}.

{run_anchor}
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


def run_anchor():
    """The x-dlbench-run anchor: the mounts `bench` gives and the container settings of
    harness/containers/hardening.py (the same dict, so the two cannot drift apart)."""
    h = hardening.settings(test_run=False)
    lines = ["x-dlbench-run: &run",
             "  network_mode: %s" % h["network_mode"],
             '  user: "${DLBENCH_UID:-%d}:${DLBENCH_GID:-%d}"' % hardening.NOBODY,
             "  working_dir: %s" % h["working_dir"],
             "  read_only: %s" % ("true" if h["read_only"] else "false"),
             "  cap_drop: [%s]" % ", ".join(h["cap_drop"]),
             "  security_opt: [%s]" % ", ".join(h["security_opt"]),
             "  pids_limit: %d" % h["pids_limit"],
             "  tmpfs:"]
    lines += ["    - %s:%s" % (path, opts) for path, opts in sorted(h["tmpfs"].items())]
    lines += ["  environment:"]
    lines += ["    %s: %s" % (k, v) for k, v in sorted(h["environment"].items())]
    lines += ["  logging:", "    driver: %s" % h["log_config"]["type"], "    options:"]
    lines += ['      %s: "%s"' % (k, v) for k, v in sorted(h["log_config"]["config"].items())]
    lines += ["  volumes:", "    - ./tasks:/tasks:ro", "    - ${DLBENCH_DATA:-./data}:/data:ro",
              "    - ${DLBENCH_OUT:-./results/compose}:/results"]
    return "\n".join(lines) + "\n"


def compose_yaml(images=None):
    images = catalog.discover() if images is None else images
    out = [HEADER.replace("{run_anchor}", run_anchor())]
    for img in images:
        out.append("  %s:\n    <<: *run\n    image: %s\n" % (img.name, img.tag))
        if "gpu" in img.devices:
            out.append("  %s-gpu:\n    <<: [*run, *gpu]\n    image: %s\n    profiles: [gpu]\n"
                       % (img.name, img.tag))
    return "".join(out)


if __name__ == "__main__":
    sys.stdout.write(compose_yaml())
