"""dlbench host side: discover benchmark images, build them, run their tasks in containers,
collect and validate the results. The `dlbench` command line lives in harness.cli; each
command's logic in the module of its name (check-models: checks/check_models.py).

The subpackages, each importing only those above it (tests/unit/test_layout.py checks it):

  core        errors, paths, user input, the catalog of images, task files read on the host, TLS
              and pip settings
  containers  the Docker engine, the tracked container, signals, hardening, test-run settings
  images      building (context, base images, declarations), doctor, vendor, push, registries,
              package indexes, compose.yaml, the dataset cache
  results     result files, their upgrades, the report (charts, templates, browser), MFU,
              check-models summaries
  runs        one run end to end: its description, collection, orphans, contention, GPU guard,
              progress, provenance
  checks      check-models (model equivalence)
  launch      `dlbench bench` (bench.py), its executors (local, SLURM, Kubernetes), the node side
"""
LAYERS = ("core", "containers", "images", "results", "runs", "checks", "launch")
