"""What a test run changes in the containers dlbench starts: set by the test suite
(tests/conftest.py) through two variables, never by a benchmark, and said in every result such a
run writes (provenance.test_run).

* DLBENCH_TEST_COMPILE_CACHE=DIR: a shared compile cache. Theano compiles C code for every graph
  into its compile directory, a minute or more per fresh container on a small CPU. Benchmark
  runs compile afresh in their own tmpfs (docs/frameworks.md, Theano: a run never reads files another run
  wrote); `dlbench check-models` gives the containers of one check a compile directory per image
  (what it checks does not depend on when the code was compiled). In a test run, every bench
  and check-models container gets DIR/<image> as its compile directory, so the run compiles
  each graph once (a keras-2.3 CNN container: 56 s alone, 14 s after another compiled it).
  Its results' first steps (the 2017-style cell time) may exclude compiling.
* DLBENCH_TEST_SHARED_CPUS=1: two test workers share the CPUs (pytest-xdist), so every container
  gets OMP_WAIT_POLICY=PASSIVE: OpenMP threads that wait sleep instead of spinning, which against
  another process's threads wastes the cores both need (measured here, 2 CPUs: the caffe2 and
  PyTorch learning checks side by side took 148 s spinning, 75 s passive; one after the other
  94 s). The variable reaches the run's environment and its env probe records it."""
import os

COMPILE_CACHE_ENV = "DLBENCH_TEST_COMPILE_CACHE"
SHARED_CPUS_ENV = "DLBENCH_TEST_SHARED_CPUS"
CACHE_TARGET = "/dlbench/compile-cache"  # where a shared cache is mounted in the container
SHARED_CPUS_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def _environ(environ):
    return os.environ if environ is None else environ


def cache_dir(image_name, environ=None):
    """DIR/<image> when DLBENCH_TEST_COMPILE_CACHE=DIR is set, else None."""
    root = _environ(environ).get(COMPILE_CACHE_ENV, "").strip()
    return os.path.join(os.path.abspath(root), image_name) if root else None


def shared_cpus(environ=None):
    return _environ(environ).get(SHARED_CPUS_ENV, "").strip() in ("1", "true", "yes")


def container_environment(environ=None):
    """What every container of this process gets (hardening.settings): nothing outside a test
    run."""
    return dict(SHARED_CPUS_ENVIRONMENT) if shared_cpus(environ) else {}


def theano_flags(existing=None):
    """THEANO_FLAGS with the compile directory in the shared cache; flags already given are kept
    (a base_compiledir among them wins)."""
    existing = (existing or "").strip().strip(",")
    if "base_compiledir" in existing:
        return existing
    ours = "base_compiledir=%s/theano" % CACHE_TARGET
    return "%s,%s" % (existing, ours) if existing else ours


def cache_environment(environ=None):
    """A run's environment (a dict, not changed) with the shared cache's variables added."""
    env = dict(environ or {})
    env["THEANO_FLAGS"] = theano_flags(env.get("THEANO_FLAGS"))
    return env


def provenance(image_name, environ=None):
    """provenance.test_run of a result: what this test run changed, or None outside one."""
    out = {}
    if cache_dir(image_name, environ):
        out["compile_cache"] = ("shared by the test run's containers (%s): the first step may "
                                "reuse code another container compiled" % COMPILE_CACHE_ENV)
    if shared_cpus(environ):
        out["environment"] = container_environment(environ)
    return out or None
