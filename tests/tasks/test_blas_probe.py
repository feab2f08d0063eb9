"""tasks/measure/blas.py: the BLAS library, kernel and threads asked of the process itself, and
the {cpu_count} / {openblas_coretype} placeholders of a variant's env."""
import os
import subprocess
import sys

import pytest

from helpers import ROOT
sys.path.insert(0, os.path.join(ROOT, "tasks"))

from measure import blas  # noqa: E402


def test_numpy_openblas_is_found_with_kernel_and_threads():
    import numpy as np
    np.dot(np.ones((8, 8)), np.ones((8, 8)))
    linked = blas.probe()
    kinds = [b["kind"] for b in linked["blas"]]
    assert kinds, "numpy's BLAS not found among %s" % blas.mapped_libraries()[:5]
    libraries = [b["library"] for b in linked["blas"]]
    assert len(set(libraries)) == len(libraries), libraries  # one library is listed once
    first = linked["blas"][0]
    if first["kind"] == "openblas":
        assert first["config"].startswith("OpenBLAS")
        assert first["version"] and first["kernel"]
        assert isinstance(first["threads"], int) and first["threads"] >= 1


def probe_in_child(env):
    code = ("import sys, json; sys.path.insert(0, %r); import numpy; from measure import blas; "
            "print(json.dumps(blas.probe()))" % os.path.join(ROOT, "tasks"))
    full = dict(os.environ)
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full, check=True,
                         stdout=subprocess.PIPE).stdout
    import json
    return [b for b in json.loads(out)["blas"] if b["kind"] == "openblas"][0]


def test_the_probe_reports_what_the_environment_changed():
    import numpy  # noqa: F401
    if not any(b["kind"] == "openblas" for b in blas.probe()["blas"]):
        pytest.skip("numpy here is not linked to OpenBLAS")
    one = probe_in_child({"OPENBLAS_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Sandybridge"})
    assert one["threads"] == 1
    assert one["kernel"].lower() == "sandybridge"


def test_coretype_follows_the_flags_not_the_machine():
    avx512 = {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"}
    assert blas.openblas_coretype(avx512) == "SkylakeX"  # a build without it runs Haswell
    assert blas.openblas_coretype(avx512 - {"avx512dq"}) == "Haswell"
    assert blas.openblas_coretype({"avx", "avx2", "fma"}) == "Haswell"
    assert blas.openblas_coretype({"avx"}) == "Sandybridge"
    assert blas.openblas_coretype({"sse2"}) == ""


def test_placeholders_expand_and_empty_values_are_dropped():
    env = {"OMP_NUM_THREADS": "{cpu_count}", "OPENBLAS_CORETYPE": "{openblas_coretype}",
           "KERAS_BACKEND": "jax"}
    assert blas.expand(env, flags={"avx2", "fma"}, cpus=3) == {
        "OMP_NUM_THREADS": "3", "OPENBLAS_CORETYPE": "Haswell", "KERAS_BACKEND": "jax"}
    assert blas.expand(env, flags=set(), cpus=2) == {"OMP_NUM_THREADS": "2",
                                                     "KERAS_BACKEND": "jax"}


def test_mkl_gets_its_avx2_path_on_amd_only():
    """MKL_DEBUG_CPU_TYPE=5 on an AMD CPU with AVX2; never on Intel (it would cap MKL at AVX2)
    nor on a CPU without AVX2; the vendor read from cpuinfo."""
    env = {"MKL_DEBUG_CPU_TYPE": "{mkl_amd_cpu_type}"}
    avx2 = {"avx", "avx2", "fma"}
    assert blas.expand(env, flags=avx2, vendor="AuthenticAMD") == {"MKL_DEBUG_CPU_TYPE": "5"}
    assert blas.expand(env, flags=avx2 | {"avx512f"}, vendor="GenuineIntel") == {}
    assert blas.expand(env, flags={"avx", "sse2"}, vendor="AuthenticAMD") == {}


def test_cpu_vendor_is_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2\n")
    assert blas.cpu_vendor(str(info)) == "AuthenticAMD"
    assert blas.cpu_vendor(str(tmp_path / "missing")) == ""


def test_run_py_sets_the_variant_env_before_numpy_loads_its_openblas():
    """numpy's OpenBLAS reads OMP_NUM_THREADS / OPENBLAS_CORETYPE once, when numpy imports it:
    run.py's first step (adapters.set_env_early) puts the variant's env in place before that, so
    a variant that names a kernel and a thread count gets them in numpy's OpenBLAS (Chainer's
    BLAS is numpy's). A stand-in framework module asks for Sandybridge and one thread, which no
    OpenBLAS picks by itself on an AVX2 CPU."""
    if not blas.openblas_coretype(blas.cpu_flags()):
        pytest.skip("no AVX on this CPU")
    code = ("import sys, json, types; sys.path.insert(0, %r); from runtime import adapters; "
            "fw = types.SimpleNamespace(NAME='x', VARIANTS=[{'name': 't', 'doc': '', 'env': "
            "{'OPENBLAS_CORETYPE': 'Sandybridge', 'OMP_NUM_THREADS': '1'}}]); "
            "adapters.framework = lambda name: fw; "
            "adapters.set_env_early(['cnn', '--adapter', 'x', '--variant', 't']); "
            "import numpy; from measure import blas; print(json.dumps(blas.probe()))"
            % os.path.join(ROOT, "tasks"))
    env = dict((k, v) for k, v in os.environ.items()
               if k not in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"))
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         stdout=subprocess.PIPE).stdout
    import json
    found = [b for b in json.loads(out)["blas"] if b["kind"] == "openblas"]
    if not found:
        pytest.skip("numpy here is not linked to OpenBLAS")
    assert found[0]["kernel"].lower() == "sandybridge" and found[0]["threads"] == 1, found[0]
