"""The settings every container dlbench starts gets, in one place: the benchmark runs
(bench.Run.container_args) and the `pip freeze` of provenance.py. settings() returns them as
one plain dict of Docker SDK `containers.run` arguments; the caller adds the image, the command,
the mounts and the labels.

What a container gets, and why:

* no capabilities (cap_drop ALL) and no-new-privileges: a framework needs none, and a setuid
  binary in an image cannot gain any.
* no network (network_mode none): a benchmark never downloads while timed (tasks/README.md).
* a pids limit of PIDS_BASE + PIDS_PER_CPU per CPU (1088 on a 2-CPU host, 9216 on 256 CPUs),
  against a fork bomb, far above what the frameworks start. Measured here (2 CPUs, then pinned
  to 1 CPU), peak tasks (threads + processes) of one container over cnn, rnn and inference:
  PyTorch 2.13 3 (1 on 1 CPU), TensorFlow 2.21 and Keras-on-TF 7 (4), Keras-on-torch 3, JAX
  (Flax 0.12, Keras-on-JAX) 22 (15): at most about 8 + 7 per CPU, the thread pools growing with
  the CPU count. PIDS_PER_CPU = 32 is 4.5 times that slope and PIDS_BASE = 1024 leaves room for
  CUDA's and the GPU runtimes' own threads, which the CPU-only hosts here could not measure.
* a read-only root filesystem, with one writable tmpfs at /tmp (TMPFS_SIZE, memory that counts
  against --memory when used) that holds everything a run writes outside /results: HOME,
  XDG_CACHE_HOME, XDG_CONFIG_HOME and TMPDIR all point into it, so the caches frameworks keep
  under them (Keras' ~/.keras/keras.json, torch inductor's /tmp/torchinductor_<user>, found
  with `docker diff` after each image's tasks; later: CUDA's ~/.nv/ComputeCache, Theano's
  ~/.theano compile dir, XLA/cuDNN autotune files, matplotlib and numba caches) find a writable
  place whatever the image sets. It allows exec: compile caches (Theano, inductor) load the
  shared objects they build there. nosuid, nodev.
* Docker's json-file log bounded to LOG_MAX_FILE files of LOG_MAX_SIZE. The harness follows
  the log live and saves it (container.log): everything a run prints is saved, exactly once,
  until the engine's first rotation, i.e. until the run has printed LOG_MAX_SIZE of Docker's
  JSON log lines (each line about 70 bytes longer than printed: about 58 MB of 100-character
  lines). Past that, a json-file reader (Docker 20.10 measured) can miss or repeat lines at
  each rotation; the tasks print a line per epoch, a whole reference run well under 1 MB.
* an unprivileged user: the invoking user's uid:gid (result files are theirs), or, when that
  is root, NOBODY (65534:65534, nobody:nogroup in Debian and Ubuntu images). Then the run's
  results folder is handed to that uid for the run (prepare_results_dir) and given back to
  root after it (reclaim_results_dir), so result files end up owned by the invoking user in
  both cases.

Speed: none of this changes the measured times beyond run-to-run noise (CNN, synthetic, 1 epoch,
512 images, old and hardened settings alternated on a shared 2-CPU host: PyTorch 2.13 median
training time 6.8 s old vs 6.5 s hardened, 4 runs each; Flax 0.12 3.9 s vs 3.9 s, 3 runs each;
single runs spread 5.3-10.6 s and 3.1-7.5 s).
"""
import os

from . import testrun

NOBODY = (65534, 65534)
PIDS_BASE, PIDS_PER_CPU = 1024, 32
TMPFS_SIZE = "2g"
LOG_MAX_SIZE, LOG_MAX_FILE = "100m", "2"
SCRATCH = "/tmp"  # the one writable place besides /results


def run_ids(uid=None, gid=None):
    """(uid, gid) a container runs as: the caller's, or NOBODY when the caller is root."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    return NOBODY if uid == 0 else (uid, gid)


def pids_limit(cpus=None):
    return PIDS_BASE + PIDS_PER_CPU * (cpus or os.cpu_count() or 1)


def scratch_environment():
    """Where programs look for a writable home, cache, config and temporary folder: the tmpfs."""
    return {"HOME": SCRATCH, "XDG_CACHE_HOME": SCRATCH + "/.cache",
            "XDG_CONFIG_HOME": SCRATCH + "/.config", "TMPDIR": SCRATCH}


def settings(environment=None, uid=None, gid=None, cpus=None, test_run=True):
    """The Docker SDK arguments every dlbench container gets (see the module doc).
    environment: the caller's variables, which win over scratch_environment() and what a test
    run sets (harness/containers/testrun.py; nothing outside one; test_run=False leaves it out:
    compose.yaml, a file committed whatever test run made it)."""
    env = scratch_environment()
    if test_run:
        env.update(testrun.container_environment())
    env.update(environment or {})
    return {
        "user": "%d:%d" % run_ids(uid, gid),
        "network_mode": "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": pids_limit(cpus),
        "read_only": True,
        "tmpfs": {SCRATCH: "rw,exec,nosuid,nodev,size=%s,mode=1777" % TMPFS_SIZE},
        "working_dir": SCRATCH,
        "environment": env,
        "log_config": {"type": "json-file",
                       "config": {"max-size": LOG_MAX_SIZE, "max-file": LOG_MAX_FILE}},
    }


def prepare_results_dir(path, user, tree=False):
    """Make the run's results folder (mounted at /results; or another folder the container
    writes: a test run's compile cache) writable for the container's user ("uid:gid"): it is
    the caller's own folder unless the caller is root and the container runs as another uid;
    then the folder (only it, not its parents) is handed to that uid. tree: everything already
    in it too (a run that resumes the work of an earlier one, which reclaim_results_dir gave
    back to root: `dlbench data prepare`'s journal and copies); links are never followed."""
    os.makedirs(path, exist_ok=True)
    uid, gid = (int(x) for x in user.split(":"))
    if os.geteuid() == 0:
        _hand_over(path, uid, gid, tree)


def reclaim_results_dir(path):
    """After the run: the results folder and all the container left in it belong to the caller
    again (a no-op unless the caller is root, the only case where prepare_results_dir handed it
    away). Links are never followed: the container could have left one to anywhere."""
    if os.geteuid() != 0 or not os.path.isdir(path):
        return
    _hand_over(path, os.getuid(), os.getgid(), tree=True)


def _hand_over(path, uid, gid, tree):
    """chown path (and, with tree, everything below it) to uid:gid where it differs; links are
    changed themselves, never followed."""
    def own(p):
        st = os.lstat(p)
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.chown(p, uid, gid, follow_symlinks=False)

    own(path)
    if tree:
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                own(os.path.join(folder, name))
