"""Keras 3: what every Keras 3 task file shares. The variant is the backend.

Keras 3 runs one model definition on TensorFlow, JAX or PyTorch; the backend is fixed when keras
is imported, so each variant sets KERAS_BACKEND, which run.py exports before load() imports
keras: one result row per backend, like the 2017 Keras(TF)/Keras(CNTK)/Keras(Theano) rows.
tensorflow-tuned is the tensorflow backend with TensorFlow's oneDNN CPU kernels switched on
(TF >= 2.9 turns them on by default only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX: TF 2.9
release notes). The host imports this module without keras installed.

Several devices (the densenet task's --workers N / --gpus N): Keras 3's distribution API, on
the JAX backend; on a CPU, load() asks JAX for N host devices before keras imports it
(frameworks/flax.py host_devices_env: XLA_FLAGS from DLBENCH_DEVICES).
"""
import os

NAME = "keras"
PACKAGES = ("keras", "tensorflow", "jax", "torch")
VARIANTS = [
    {"name": "tensorflow", "doc": "TensorFlow backend",
     "env": {"KERAS_BACKEND": "tensorflow"}, "row": "Keras(TF)"},
    {"name": "tensorflow-tuned", "doc": "TensorFlow backend, oneDNN CPU kernels on",
     "env": {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "1"}, "row": "Keras(TF)",
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "TensorFlow's own step, as the TensorFlow row's: in one bench "
                    "(2-CPU AMD EPYC, two repeats) this variant trained at 602 and 511 img/s "
                    "against TensorFlow tuned's 570 and 621; Keras's fit is 0.965 of a plain "
                    "fit loop (docs/frameworks.md)"}},
    # the CNN and RNN step by step: train_on_batch per minibatch from the runner's loop, where
    # the others call fit once an epoch as 2017 did (Keras 3's fit feeds numpy through tf.data
    # on this backend)
    {"name": "tensorflow-steps", "doc": "TensorFlow backend, train_on_batch per minibatch",
     "env": {"KERAS_BACKEND": "tensorflow"}, "tasks": ["cnn", "rnn"], "loop": "steps",
     "row": "Keras(TF)"},
    {"name": "jax", "doc": "JAX backend", "env": {"KERAS_BACKEND": "jax"}, "row": None,
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "XLA's CPU convolutions: the CNN's four layers, forward and both "
                           "gradients, ran at 64-198 GFLOP/s under jax.jit against 300-347 for "
                           "TensorFlow's oneDNN and about 400 for XLA's own matmul (flax-0.12, "
                           "tensorflow-2.21, 2-CPU AMD EPYC); XLA's flags tried (oneDNN, XNNPACK, "
                           "the thunk runtime off, fast math) changed neither the layers nor the "
                           "CNN; compile(steps_per_execution=16 or 64) no faster",
                    "inference": "XLA's CPU convolutions on ResNet-50's shapes (batch 32, "
                                 "forward, jax.jit, 2-CPU AMD EPYC): the 7x7 stem 95 GFLOP/s, a "
                                 "first-stage 3x3 141 and 1x1 45, against TensorFlow's oneDNN on "
                                 "the same shapes 252, 350 and 243; only the last stages' 3x3s "
                                 "come near (361 and 298 against 432 and 473)"}},
    {"name": "torch", "doc": "PyTorch backend", "env": {"KERAS_BACKEND": "torch"}, "row": None,
     "cpu_limits": {"cnn": "Keras's channels-last layers on torch's channels-first kernels: "
                    "torch.profiler over 20 steps at about 410 img/s (2-CPU AMD EPYC): "
                    "convolutions (oneDNN) 52 % of the time, layout copies (aten::copy_) 13 %, "
                    "max pooling 9 %, the dense layers on MKL 7 %, dropout's masks 6.5 %",
                    "inference": "the same layout copies: torch.profiler over one batch of "
                    "32 (2-CPU AMD EPYC), aten::copy_ (NHWC<->NCHW around each convolution) "
                    "35 % of the time against the convolutions' (oneDNN) 30 %, the "
                    "unfused batch-norms' element-wise add/sub/mul 23 %, ReLU 7 %; 14.7 img/s "
                    "in a bench where Keras on TensorFlow ran 40.5"}},
]
# GPU math modes the 2017 K80/P100 did not have, on each backend: TF32 tensor-core math, and
# mixed precision (Keras's mixed_bfloat16 policy: bfloat16 compute, float32 weights). Never
# beside a 2017 (fp32) number.
for _backend in ("tensorflow", "jax", "torch"):
    VARIANTS.append({"name": _backend + "-tf32", "doc": "%s backend, TF32 math on the GPU"
                     % _backend, "env": {"KERAS_BACKEND": _backend}, "devices": ["gpu"],
                     "row": None})
    VARIANTS.append({"name": _backend + "-mixed-bf16", "doc": "%s backend, mixed_bfloat16 "
                     "policy on the GPU" % _backend, "env": {"KERAS_BACKEND": _backend},
                     "devices": ["gpu"], "row": None})
del _backend
MIXED_POLICY = "mixed_bfloat16"
# set by init(): gpu, and cudnn_gru: the RNN runs cuDNN's fused GRU (the 2017 Keras_TF_RNN ran
# CuDNNGRU). Keras 3 has it on the tensorflow and torch backends on a GPU; JAX has no cuDNN GRU
# (Keras runs its GRU there as a lax.scan), so the jax variant's GPU RNN is not the 2017 program.
# layout: the task file's image layout on this device, set by runtime/adapters.py start
DEVICE = {"gpu": False, "cudnn_gru": False, "layout": "NHWC"}
CUDNN_GRU_BACKENDS = ("tensorflow", "torch")
keras = None


def load():
    global keras
    if os.environ.get("KERAS_BACKEND") == "jax":
        from frameworks import flax as jax_module
        jax_module.host_devices_env()
    import keras


def version():
    return keras.__version__


def _onednn_on():
    """On the tensorflow backend: whether TensorFlow runs its oneDNN kernels (else None)."""
    return _tensorflow_module().onednn_on() if keras.backend.backend() == "tensorflow" else None


def _tensorflow_module():
    """frameworks/tensorflow.py, loaded: TensorFlow's own switches, shared, not copied."""
    from frameworks import tensorflow as tensorflow_module
    tensorflow_module.load()
    return tensorflow_module


def probe():
    from common import cpus
    backend = keras.backend.backend()
    info = {"backend": backend, "cuda": None, "threads": {"cpu_count": cpus.total()}}
    if backend == "tensorflow":
        import tensorflow as tf
        info["backend_version"] = tf.__version__
        info["cuda"] = tf.sysconfig.get_build_info().get("cuda_version")
    elif backend == "jax":
        import jax
        info["backend_version"] = jax.__version__
    elif backend == "torch":
        import torch
        info["backend_version"] = torch.__version__
        info["cuda"] = torch.version.cuda
        info["threads"]["torch"] = torch.get_num_threads()
    return info


def init(device, seed, variant):
    wanted = [v["env"]["KERAS_BACKEND"] for v in VARIANTS if v["name"] == variant]
    if wanted != [keras.backend.backend()]:
        raise RuntimeError("variant %r needs the %s backend; this process imported keras with "
                           "%s: run it through run.py" % (variant, wanted[0] if wanted else "?",
                                                          keras.backend.backend()))
    onednn = _onednn_on()
    if variant == "tensorflow-tuned" and onednn is False:
        raise RuntimeError("variant tensorflow-tuned: tensorflow was imported before "
                           "TF_ENABLE_ONEDNN_OPTS was set; run it through run.py")
    backend = keras.backend.backend()
    if device == "gpu" and not _backend_sees_gpu(backend):
        raise RuntimeError("--device gpu, but Keras's %s backend sees no CUDA GPU: use --device "
                           "cpu, the CUDA build of the image (--build-arg KERAS_BUILD=cuda), or "
                           "a host with a GPU and the NVIDIA container runtime" % backend)
    DEVICE["gpu"] = device == "gpu"
    DEVICE["cudnn_gru"] = DEVICE["gpu"] and backend in CUDNN_GRU_BACKENDS
    keras.utils.set_random_seed(seed)
    if variant.endswith("-tf32"):
        precision = _tf32()
    else:
        precision = _true_fp32()
    if variant.endswith("-mixed-bf16"):
        keras.config.set_dtype_policy(MIXED_POLICY)  # before build_model: every layer takes it
        precision.update({"dtype": "mixed", "policy": keras.config.dtype_policy().name})
    return {"backend": backend, "onednn": onednn,
            "image_data_format": keras.config.image_data_format(),
            "gru": "cudnn" if DEVICE["cudnn_gru"] else "generic", "precision": precision}


def devices(n):
    """n data-parallel devices as keras.distribution names them ("cpu:0", "gpu:1"); the JAX
    backend only (keras.distribution is the JAX backend's), one device on the others."""
    backend = keras.backend.backend()
    if n > 1 and backend != "jax":
        raise RuntimeError("%d data-parallel replicas: Keras 3's distribution API runs on the "
                           "JAX backend only; use --variant jax (this is %s)" % (n, backend))
    if n == 1:
        return ["gpu:0" if DEVICE["gpu"] else "cpu:0"]
    from frameworks import flax as jax_module
    jax_module.load()
    found = jax_module.devices(n)
    return ["%s:%d" % (d.platform, d.id) for d in found]


def _backend_sees_gpu(backend):
    if backend == "tensorflow":
        import tensorflow as tf
        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax
        return jax.default_backend() == "gpu"
    import torch
    return torch.cuda.is_available()


def _tf32():
    """TF32 on, on the active backend (variants *-tf32). Returns what is in effect."""
    backend = keras.backend.backend()
    info = {"dtype": "float32 (TF32 math)", "policy": keras.config.dtype_policy().name}
    if backend == "tensorflow":
        tensorflow_precision = _tensorflow_module().tf32()
        tensorflow_precision.pop("dtype")
        info.update(tensorflow_precision)
    elif backend == "jax":
        import jax
        jax.config.update("jax_default_matmul_precision", "tensorfloat32")
        info["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision
    elif backend == "torch":
        import torch
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        info["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    return info


def _true_fp32():
    """Pin true fp32 on the active backend, as the 2017 K80/P100 ran (no TF32): each backend's
    own switch (TensorFlow, JAX and PyTorch use TF32 on Ampere and newer GPUs by default).
    Returns what is in effect."""
    backend = keras.backend.backend()
    info = {"dtype": keras.config.floatx(), "policy": keras.config.dtype_policy().name}
    if backend == "tensorflow":
        tensorflow_precision = _tensorflow_module().true_fp32()
        tensorflow_precision.pop("dtype")
        info.update(tensorflow_precision)
    elif backend == "jax":
        import jax
        jax.config.update("jax_default_matmul_precision", "highest")
        info["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision
    elif backend == "torch":
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        info["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    return info


def gemm(n):
    """The peak probe's products (measure/peak.py): [(matmul, wait, method)] for an n x n float32
    matrix product on the run's device: keras.ops.matmul as an eager call, and on the tensorflow
    and jax backends also compiled as the training step is (model.compile's jit_compile="auto":
    tf.function with XLA, jax.jit; the torch backend trains eagerly): the CNN's XLA-compiled
    step read MFU 106 % against the eager matmul alone on the tensorflow backend. On the torch
    backend's CPU also oneDNN's inner product, the library of its convolutions."""
    import numpy as np
    rng = np.random.RandomState(0)
    ops = keras.ops
    backend = keras.backend.backend()
    a = ops.convert_to_tensor(rng.standard_normal((n, n)).astype(np.float32))
    b = ops.convert_to_tensor(rng.standard_normal((n, n)).astype(np.float32))

    def wait(out):  # the host copy of one element waits for an asynchronous (GPU, JAX) product
        ops.convert_to_numpy(out[:1, :1])
    paths = [(lambda: ops.matmul(a, b), wait, "keras.ops.matmul on the %s backend" % backend)]
    if backend == "tensorflow":
        import tensorflow as tf
        compiled = tf.function(lambda x, y: ops.matmul(x, y), jit_compile=True)
        paths.append((lambda: compiled(a, b), wait, "keras.ops.matmul in tf.function("
                      "jit_compile=True) (XLA, as the compiled training step)"))
    elif backend == "jax":
        import jax
        compiled = jax.jit(ops.matmul)
        paths.append((lambda: compiled(a, b), wait,
                      "jax.jit(keras.ops.matmul) (as the compiled training step)"))
    elif backend == "torch":
        # torch's CPU convolutions run on oneDNN, its matmul on the wheel's MKL (half oneDNN's
        # rate on an AMD EPYC): frameworks/pytorch.py gemm
        from frameworks import pytorch as torch_module
        torch_module.load()
        onednn = torch_module.onednn_gemm(a, b)
        if onednn is not None:
            paths.append(onednn)
    return paths
