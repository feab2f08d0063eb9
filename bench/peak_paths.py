"""The peak probe's GEMM paths in one image (a script, not a test): prints one JSON line with
the probe record (tasks/measure/peak.py) of a framework adapter's variant, every path's GFLOP/s
in `candidates`. Started as run.py starts a run (the variant's environment before numpy and the
framework are imported, the adapter's init), so the probe sees the run's threads and BLAS.

--tasks names the tasks folder to take peak.py and the framework module from: the checkout's
own by default; another checkout's (e.g. the main branch mounted at /before) gives the probe as
it was there, for a before/after comparison in the same container.

    docker run --rm --network none -v "$PWD":/src:ro -w /tmp -e HOME=/tmp dlbench/mxnet-1.9 \\
        python3 /src/bench/peak_paths.py --adapter mxnet --variant module [--tasks DIR]

Figures are this machine's CPU under whatever load it has: print `uptime` beside them.
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--variant", required=True)
    ap.add_argument("--task", default="cnn", help="the task whose variant is started (cnn)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    ap.add_argument("--tasks", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "tasks"), help="the tasks folder (default: this checkout's)")
    args = ap.parse_args()
    sys.path.insert(0, args.tasks)
    from runtime import adapters
    adapters.set_env_early([args.task, "--adapter", args.adapter, "--variant", args.variant,
                            "--device", args.device])
    from measure import envprobe, peak
    fw, _, _ = adapters.start(args.task, args.adapter, args.variant, args.device, 0)
    threads = envprobe.probe(fw).get("threads")
    rec = peak.measure(fw, args.device, threads=threads)
    rec["tasks"] = args.tasks
    rec["adapter"], rec["variant"] = args.adapter, args.variant
    print(json.dumps(rec, sort_keys=True))


if __name__ == "__main__":
    main()
