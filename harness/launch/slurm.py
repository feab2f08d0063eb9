"""`dlbench bench ... --on slurm`: one SLURM batch job per run (sbatch), each running the run's
description (harness/runs/runspec.py, written as run.json in the run's result folder) with
`python3 -m harness.launch.slurm_node RUNFILE` on its node's Docker engine. The results folder must be on a
filesystem the nodes share, at the same path (and so must this checkout and its Python).

The host follows the jobs (squeue --states=all, which also shows jobs that ended a few minutes
ago; sacct when the cluster keeps accounting) and prints each run's state as it changes
(pending, running on NODE, done, failed). A job that ends without a result of the node's, or
that SLURM ended (scancel, time limit, node failure, out of memory, preemption), gets a failed
result with SLURM's reason (finalize). Ctrl-C (SIGTERM, SIGHUP) on the host scancels every job
it submitted that has not ended, and writes their failed results. --detach submits, writes
slurm-jobs.json in the run's folder and returns; `dlbench results` and `dlbench report` later
reconcile (finalize the runs whose jobs ended; list those still queued or running).

Jobs are submitted --exclusive by default: two runs sharing a node's CPUs would time each other
(--share-nodes allows it)."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

from ..core import paths
from ..results import results
from ..runs import runspec
from ..containers import signals
from ..core.errors import HarnessError

JOBS_FILE = "slurm-jobs.json"
POLL = 2.0  # seconds between squeue calls while jobs run

# SLURM's job states (squeue %T / sacct State): the ones a job ends in, and what they mean.
ENDED = {
    "COMPLETED": None,
    "FAILED": "the job failed (non-zero exit of harness.launch.slurm_node)",
    "CANCELLED": "cancelled (scancel)",
    "TIMEOUT": "past its SLURM time limit",
    "NODE_FAIL": "its node failed",
    "OUT_OF_MEMORY": "out of memory (SLURM)",
    "PREEMPTED": "preempted",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "past its deadline",
    "REVOKED": "revoked",
    "SPECIAL_EXIT": "special exit",
}
SHOWN = {"PENDING": "pending", "CONFIGURING": "pending", "REQUEUED": "pending",
         "RUNNING": "running", "COMPLETING": "running", "SUSPENDED": "suspended",
         "STOPPED": "suspended", "RESIZING": "running", "SIGNALING": "running",
         "STAGE_OUT": "running"}

_TIME = re.compile(r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+(:\d{1,2}(:\d{1,2})?)?)$")


# SLURM reads 0 as no limit at all; a year is far beyond any benchmark (and any site's MaxTime)
MAX_TIME_SECONDS = 365 * 24 * 3600


def time_limit_seconds(value):
    """Seconds of a SLURM --time value (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)."""
    days, _, clock = value.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if days:  # D-HH[:MM[:SS]]
        parts += [0] * (3 - len(parts))
        return int(days) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
    if len(parts) == 1:  # minutes
        return parts[0] * 60
    if len(parts) == 2:  # MM:SS
        return parts[0] * 60 + parts[1]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def check_time_limit(value):
    """A SLURM --time value (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS) from 1 s to a
    year, else one line (0 would mean no limit to SLURM; 20 digits overflow its counters)."""
    if value is None:
        return None
    text = value.strip()
    if not _TIME.match(text) or len(text) > 16 or \
            not 0 < time_limit_seconds(text) <= MAX_TIME_SECONDS:
        raise HarnessError("--time-limit %r: give a SLURM time from 1 second to 365 days: "
                           "minutes, MM:SS, HH:MM:SS or D-HH:MM:SS, e.g. 30 or 2:00:00" % value)
    return text


_SLURM_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")


def check_name(option, value):
    """A SLURM partition or account name: letters, digits, '_', '.', '+', '-' (a newline or a
    space would reach sbatch's command line), else one line."""
    if value is not None and not _SLURM_NAME.match(value):
        raise HarnessError("%s %r: a SLURM name is letters, digits, '_', '.', '+' and '-' (at "
                           "most 64)" % (option, value))
    return value


def need_slurm():
    missing = [c for c in ("sbatch", "squeue", "scancel") if shutil.which(c) is None]
    if missing:
        raise HarnessError("--on slurm: no %s here: run dlbench on a SLURM login node (or start "
                           "the one-node test cluster: bash .ci/slurm-up.sh)" % ", ".join(missing))


def _run(cmd, timeout=60):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


class SlurmOptions(object):
    """What --on slurm was given."""

    def __init__(self, partition=None, gpus_per_run=0, time_limit=None, account=None,
                 detach=False, exclusive=True, python=None, poll=POLL):
        self.partition = check_name("--partition", partition)
        self.gpus_per_run = int(gpus_per_run or 0)
        self.time_limit = check_time_limit(time_limit)
        self.account = check_name("--account", account)
        self.detach, self.exclusive = detach, exclusive
        self.python = python or os.environ.get("DLBENCH_NODE_PYTHON") or sys.executable
        self.poll = poll


def job_script(spec, runfile, python):
    """The batch script of one run: the node runs the run's description with this checkout's
    harness (shared filesystem)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # harness/launch/
    return "\n".join([
        "#!/bin/sh",
        "# dlbench run %s (run id %s), submitted by `dlbench bench --on slurm`" % (
            spec.label, spec.run_id),
        "export PYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH}" % _sh(root),
        "export DLBENCH_ROOT=%s" % _sh(paths.project_root()),
        "exec %s -m harness.launch.slurm_node %s" % (_sh(python), _sh(runfile)),
        ""])


def _sh(text):
    return "'" + text.replace("'", "'\\''") + "'"


def sbatch_command(spec, script, sopts):
    cmd = ["sbatch", "--parsable", "--job-name", "dlbench-%s" % spec.label.replace(" ", "-"),
           "--output", os.path.join(spec.dir, "slurm.out"), "--chdir", spec.dir,
           "--nodes", "1", "--ntasks", "1"]
    if sopts.exclusive:
        cmd.append("--exclusive")
    if sopts.partition:
        cmd += ["--partition", sopts.partition]
    if sopts.account:
        cmd += ["--account", sopts.account]
    if sopts.time_limit:
        cmd += ["--time", sopts.time_limit]
    if sopts.gpus_per_run:
        cmd += ["--gpus-per-node", str(sopts.gpus_per_run)]
    return cmd + [script]


def submit(spec, sopts):
    """Write the run's description and batch script into its folder, sbatch it; the job id.
    A refusal writes the run's failed result (the reason: sbatch's words), then raises."""
    os.makedirs(spec.dir, exist_ok=True)
    runfile = os.path.join(spec.dir, runspec.FILENAME)
    spec.write(runfile)
    script = os.path.join(spec.dir, "job.sh")
    with open(script, "w") as f:
        f.write(job_script(spec, runfile, sopts.python))
    os.chmod(script, 0o755)
    out = _run(sbatch_command(spec, script, sopts))
    if out.returncode != 0:  # the run's folder still gets its (failed) result, as any run's
        why = "sbatch refused %s: %s" % (spec.label,
                                         " ".join((out.stderr or out.stdout).split())[:300])
        write_failed(spec, why, None, None, sopts)
        raise HarnessError(why)
    return out.stdout.strip().split(";")[0]


# ------------------------------------------------------------------------------ job states

class JobState(object):
    def __init__(self, job_id, state, node=None, reason=None, exit_code=None):
        self.job_id, self.state, self.node = job_id, state, node or None
        self.reason, self.exit_code = reason, exit_code

    @property
    def ended(self):
        return self.state in ENDED


def _base_state(text):
    # sacct: "CANCELLED by 0"; squeue: "CANCELLED"
    return (text or "").split()[0].rstrip("+") if text else ""


def query(job_ids):
    """{job id: JobState} of the jobs SLURM still knows: squeue --states=all (jobs that ended
    within the controller's MinJobAge included), then sacct for the rest when accounting is on."""
    ids = [str(j) for j in job_ids]
    found = {}
    if not ids:
        return found
    out = _run(["squeue", "-h", "--states=all", "-j", ",".join(ids), "-o", "%i|%T|%N|%r"])
    if out.returncode == 0:
        for line in out.stdout.splitlines():
            parts = line.split("|")
            if len(parts) >= 4 and parts[0] in ids:
                node = parts[2] if parts[2] not in ("", "(null)") else None
                found[parts[0]] = JobState(parts[0], parts[1], node, parts[3])
    rest = [j for j in ids if j not in found]
    if rest and shutil.which("sacct"):
        out = _run(["sacct", "-n", "-P", "-X", "-j", ",".join(rest),
                    "-o", "JobID,State,NodeList,ExitCode,Reason"])
        if out.returncode == 0:
            for line in out.stdout.splitlines():
                parts = line.split("|")
                if len(parts) >= 4 and parts[0] in rest:
                    found[parts[0]] = JobState(parts[0], _base_state(parts[1]),
                                               parts[2] if parts[2] != "None assigned" else None,
                                               parts[4] if len(parts) > 4 else None, parts[3])
    # a job that squeue shows COMPLETING is still ending (its processes are being killed):
    # wait for its end before writing anything, the node may still be writing its result
    for st in found.values():
        if st.state == "COMPLETING":
            st.state = "RUNNING"
    return found


def slurm_reason(st, sopts=None):
    what = ENDED.get(st.state) or st.state.lower()
    if st.state == "TIMEOUT" and sopts is not None and sopts.time_limit:
        what += " (--time-limit %s)" % sopts.time_limit
    return "SLURM job %s %s%s: %s" % (st.job_id, st.state, " on " + st.node if st.node else "",
                                      what)


def finalize(spec, st, sopts=None, host_reason=None):
    """The run's result once its job ended: the node's own when the job COMPLETED and it wrote
    one; else a failed result with SLURM's reason (and the node's reason, when it wrote a failed
    result as it was stopped). host_reason: why the host stopped it (Ctrl-C). Returns it."""
    have = None
    if os.path.isfile(spec.result_path):
        try:
            have = results.read_upgraded(spec.result_path)
        except (OSError, ValueError):
            have = None
    collected = have is not None and isinstance(have.get("provenance"), dict)
    if collected and host_reason is None and st is not None \
            and st.state in ("COMPLETED", "FAILED"):
        return have  # the node ran to its end: its verdict (ok, or failed with its reason)
    if st is None:
        why = "SLURM no longer knows the job (ended long ago, no accounting): no result"
    else:
        why = slurm_reason(st, sopts)
    if host_reason:
        why = "%s; %s" % (host_reason, why)
    if collected:
        if have.get("reason") and why not in have["reason"]:
            why = "%s; the node said: %s" % (why, have["reason"])
        have.update(status="failed", reason=why)
        have["provenance"].setdefault("slurm", {"job_id": st.job_id if st else None,
                                                "node": st.node if st else None,
                                                "partition": sopts.partition if sopts else None})
        results.write(have, spec.result_path)
        return have
    if have is not None:  # a file that is not a collected result: kept beside ours
        os.replace(spec.result_path, spec.result_path + ".invalid")
    code = None
    if st is not None and st.exit_code and ":" in st.exit_code:
        rc, sig = st.exit_code.split(":", 1)
        code = 128 + int(sig) if sig.isdigit() and int(sig) else (int(rc) if rc.isdigit()
                                                                  else None)
    return write_failed(spec, why, code, st, sopts)


def write_failed(spec, why, code, st=None, sopts=None):
    """A failed result for the run in its folder (st: its job's state, None when SLURM never
    took it or forgot it). Returns it."""
    doc = results.failed_result(spec.task, spec.adapter, spec.variant, spec.device, spec.source,
                                why, code, image=spec.image_name)
    prov = dict(spec.prov or {})
    prov.update(repeat=spec.repeat, run_id=spec.run_id, host=st.node if st else None,
                log=os.path.relpath(spec.log_path, spec.results_root),
                slurm={"job_id": st.job_id if st else None, "node": st.node if st else None,
                       "partition": sopts.partition if sopts else None})
    if spec.image_ref:
        prov["image_digest"] = spec.image_ref
    results.add_provenance(doc, prov)
    os.makedirs(spec.dir, exist_ok=True)
    results.write(doc, spec.result_path)
    return doc


def cancel(job_ids):
    if job_ids:
        _run(["scancel"] + [str(j) for j in job_ids])


# ------------------------------------------------------------------------------- the executor

def save_jobs(run_root, jobs, sopts):
    """slurm-jobs.json in the run's folder: which job runs which run description."""
    os.makedirs(run_root, exist_ok=True)
    doc = {"partition": sopts.partition, "time_limit": sopts.time_limit,
           "jobs": [{"job_id": j, "runfile": os.path.join(spec.dir, runspec.FILENAME)}
                    for j, spec in jobs]}
    tmp = os.path.join(run_root, JOBS_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
    os.replace(tmp, os.path.join(run_root, JOBS_FILE))


def status_line(spec, st):
    if st is None:
        return "%s: unknown to SLURM" % spec.label
    shown = SHOWN.get(st.state) or ("done" if st.state == "COMPLETED" else "failed")
    where = " on %s" % st.node if st.node and shown != "pending" else ""
    if shown == "pending" and st.reason and st.reason not in ("None", "(null)"):
        where = ", %s" % st.reason  # squeue's reason: Resources, Priority, ...
    return "%s: %s%s (job %s%s)" % (spec.label, shown, where, st.job_id,
                                    ", " + st.state if shown == "failed" else "")


class Executor(object):
    """Submits every run, then follows them to their end (unless detached)."""

    def __init__(self, sopts, run_root, echo):
        need_slurm()
        self.sopts, self.run_root, self.echo = sopts, run_root, echo
        self.jobs = []  # [(job id, spec)]
        self.ended = False  # finish() followed them to their end, or stop() cancelled them

    def add(self, spec):
        job = submit(spec, self.sopts)
        self.jobs.append((job, spec))
        save_jobs(self.run_root, self.jobs, self.sopts)
        self.echo("  %s: submitted (job %s)" % (spec.label, job))

    def finish(self):
        """Follow the jobs to their end; the results. Ctrl-C: scancel, failed results, raise."""
        if self.sopts.detach:
            self.ended = True
            return None
        shown, done, unknown = {}, {}, {}
        try:
            while len(done) < len(self.jobs):
                states = query([j for j, _ in self.jobs if j not in done])
                for job, spec in self.jobs:
                    if job in done:
                        continue
                    st = states.get(job)
                    line = status_line(spec, st)
                    if line != shown.get(job):
                        self.echo("  " + line)
                        shown[job] = line
                    if st is not None and st.ended:
                        with signals.deferred():
                            done[job] = finalize(spec, st, self.sopts)
                        if done[job].get("status") != "ok":
                            self.echo("  %s: FAILED: %s" % (spec.label,
                                                            done[job].get("reason")), err=True)
                    elif st is None:  # several polls in a row: SLURM forgot it
                        unknown[job] = unknown.get(job, 0) + 1
                        if unknown[job] > 5:
                            done[job] = finalize(spec, None, self.sopts)
                if len(done) < len(self.jobs):
                    time.sleep(self.sopts.poll)
        except KeyboardInterrupt as stop:
            with signals.held():
                self.stop(done, signals.reason(signals.signum_of(stop)))
            raise
        self.ended = True
        return [done[j] for j, _ in self.jobs]

    def abandon(self, why):
        """The bench ends before finish() (an error or a stop while submitting): the jobs
        already submitted are cancelled and given failed results."""
        if not self.ended and self.jobs and not self.sopts.detach:
            self.stop({}, why)

    def stop(self, done, why):
        """scancel what has not ended, wait for the jobs' end (60 s at most), write results."""
        self.ended = True
        left = [j for j, _ in self.jobs if j not in done]
        cancel(left)
        self.echo("  %s on the host: scancel %s" % (why, " ".join(left)), err=True)
        deadline = time.time() + 60
        states = {}
        while left and time.time() < deadline:
            states = query(left)
            if all(s.ended for s in states.values()) and len(states) == len(left):
                break
            time.sleep(1)
        for job, spec in self.jobs:
            if job in left:
                finalize(spec, states.get(job), self.sopts,
                         host_reason="%s on the host: job cancelled" % why)


def _needs_finalizing(spec):
    """No result yet, or the node's own result of a stop signal (SIGTERM: scancel or a time
    limit) without SLURM's reason."""
    if not os.path.isfile(spec.result_path):
        return True
    try:
        doc = results.read_upgraded(spec.result_path)
    except (OSError, ValueError):
        return True
    reason = doc.get("reason") or ""
    return doc.get("status") != "ok" and reason.startswith("terminated") \
        and "SLURM job" not in reason


def _inside(path, folder):
    """Whether path (links resolved) lies below folder (links resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder and path != folder


def _spec_inside(runfile, run_root):
    """The RunSpec of a slurm-jobs.json entry, or None when its run description, or the result
    folder that description names, is not below this bench's own folder: `dlbench results`
    writes results there, and must never write anywhere a file tells it to."""
    if not isinstance(runfile, str) or not _inside(runfile, run_root):
        return None
    spec = runspec.RunSpec.read(runfile)
    if not isinstance(spec.dir, str) or not _inside(spec.dir, run_root) or \
            os.path.realpath(spec.dir) != os.path.realpath(os.path.dirname(runfile)):
        return None
    return spec


def reconcile(results_root, echo):
    """For `dlbench results` / `report`: every detached SLURM bench under results_root: the runs
    whose jobs ended get their result (finalize), the others are listed. Never raises."""
    try:
        found = [os.path.join(results_root, d, JOBS_FILE) for d in sorted(os.listdir(results_root))
                 if os.path.isfile(os.path.join(results_root, d, JOBS_FILE))]
    except OSError:
        return
    for path in found:
        try:
            with open(path) as f:
                doc = json.load(f)
            todo = []
            run_root = os.path.dirname(path)
            for job in doc.get("jobs") or []:
                spec = _spec_inside(job.get("runfile"), run_root)
                if spec is None:
                    echo("%s: job %s: its run description %r is not a run folder of this "
                         "bench: skipped (paths read from files stay inside the results "
                         "folder)" % (os.path.basename(run_root), job.get("job_id"),
                                      job.get("runfile")))
                    continue
                if _needs_finalizing(spec):
                    todo.append((str(job["job_id"]), spec))
            if not todo:
                continue
            if shutil.which("squeue") is None:
                echo("%s: %d run(s) without a result; no squeue here to ask SLURM"
                     % (os.path.basename(os.path.dirname(path)), len(todo)))
                continue
            sopts = SlurmOptions(partition=doc.get("partition"))
            sopts.time_limit = doc.get("time_limit")
            states = query([j for j, _ in todo])
            for job, spec in todo:
                st = states.get(job)
                if st is not None and st.ended:
                    r = finalize(spec, st, sopts)
                    echo("%s: %s" % (status_line(spec, st), r.get("reason") or "collected"))
                elif st is None:
                    r = finalize(spec, None, sopts)
                    echo("%s: %s" % (spec.label, r.get("reason")))
                else:
                    echo(status_line(spec, st))
        except Exception as e:  # a broken file must not stop the table
            echo("%s: cannot reconcile: %s" % (path, e))
