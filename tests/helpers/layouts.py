"""The GPU layout of a task file, checked forward on the CPU (issue 26, point 7).

2017 ran TensorFlow's and Keras's CNN and DenseNet channels-first on its GPUs; the task files
declare SETTINGS["layout_gpu"] = "NCHW" and build that program where fw.DEVICE["layout"] says so.
TensorFlow's CPU kernels have NCHW convolutions and pooling forward but no NCHW max-pool
gradient, so the training step cannot run here; the forward pass can. LAYOUT_CHECK builds the
task file's network in both layouts in one container, loads the same canonical weights into
each (import_params), and returns the eval-mode outputs on the same canonical input (transposed
for NHWC) and what export_params gives back in each layout."""
import json

from helpers import TASKS

LAYOUT_CHECK = r'''
import contextlib, json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from runtime import adapters
from common import canonical, params
task, adapter, variant = sys.argv[2:5]
fw, module, settings = adapters.start(task, adapter, variant, "cpu", 0)
p = canonical.check_params(task, params.for_task(task))
n = 2
family = canonical.family_for(module.EQUIVALENCE, variant)
weights = canonical.generate(family, p, seed=0)
x = canonical.make_input(task, p, n, seed=0)
report = {"declared": module.SETTINGS, "settings_layout": settings["layout"]}


def build(q):
    if task != "densenet":
        return module.build_trainer(module.build_model(q), q)
    q["batch_size"] = n
    q = params.scale_for_devices(q, 1)
    dist = module.start_devices(q, 0)
    return module.build_trainer(module.build_model(q, dist), q, dist)


for layout in ("NHWC", "NCHW"):
    fw.DEVICE["layout"] = layout
    graph = fw.tf.Graph().as_default() if adapter == "tensorflow1" else contextlib.suppress()
    with graph:
        if adapter == "tensorflow1":
            fw.tf.set_random_seed(0)
        state = build(dict(p))
        module.import_params(state, weights)
        xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1) if layout == "NHWC" else x)
        out = np.asarray(module.outputs(state, xin), dtype=np.float64)
        back = module.export_params(state)
    report[layout] = {
        "output": out.tolist(),
        "export_mismatch": sorted(k for k in weights
                                  if not np.allclose(back[k], weights[k], atol=1e-6)),
        "data_format": __import__("keras").config.image_data_format()
                       if adapter == "keras3" else None}
print(json.dumps(report))
'''


def run_layout_check(engine, image_name, task, adapter, variant):
    """LAYOUT_CHECK in the image (built or reused), tasks/ mounted read-only: its report."""
    from harness.core import catalog
    from harness.images import build
    img = catalog.lookup([image_name])[0]
    built = build.ensure_built(img, echo=lambda *a, **k: None)
    logs = engine.containers.run(
        built.image_id, ["python3", "-c", LAYOUT_CHECK, "/tasks", task, adapter, variant],
        volumes={TASKS: {"bind": "/tasks", "mode": "ro"}}, network_mode="none",
        environment={"CUDA_VISIBLE_DEVICES": ""}, remove=True, stdout=True, stderr=False)
    return json.loads([line for line in logs.decode().splitlines() if line.startswith("{")][-1])
