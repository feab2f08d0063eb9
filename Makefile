# dlbench: make targets are thin wrappers over the `dlbench` command line (pip install -e .).
#
#   make install                          install the dlbench command (editable) with test deps
#   make base                             make debian:bookworm-slim and bullseye-slim (pull, else debootstrap)
#   make build FRAMEWORK=pytorch-2.13     build (or reuse) one image
#   make bench FRAMEWORK=pytorch-2.13 [TASK=cnn] [DEVICE=cpu|gpu|auto] [ARGS="--synthetic"]
#   make data                             fetch CIFAR-10 and IMDB into ./data (checksummed)
#   make results / make report            table of results/ / the rendered report
#   make test                             the test suite (engine tests need a Docker engine)
#   make compose.yaml                     generate compose.yaml from images/*/Dockerfile
#   make adapters-vs-plain [VS_ARGS=...]  each adapter against a plain loop, inside its own image
#   make check-models [FRAMEWORK=...]     model equivalence: every adapter vs the numpy reference
#   make docs                             the reference documentation (docs/, MkDocs --strict) into site/

PYTHON    ?= python3
DLBENCH   ?= dlbench
FRAMEWORK ?= pytorch-2.13
TASK      ?=
DEVICE    ?= auto
ARGS      ?=

TASK_OPTS = $(foreach t,$(subst $(comma), ,$(TASK)),--task $(t))
comma := ,

.PHONY: help install base build bench data results report report-screenshot test test-unit overhead adapters-vs-plain list check-models docs

help:
	@sed -n '3,13p' Makefile

install:
	$(PYTHON) -m pip install -e '.[test]'

list:
	$(DLBENCH) list

base:
	sh images/_base/debian-bookworm/make-base.sh debian:bookworm-slim
	sh images/_base/debian-bullseye/make-base.sh debian:bullseye-slim

build:
	$(DLBENCH) build $(FRAMEWORK) $(ARGS)

bench:
	$(DLBENCH) bench $(FRAMEWORK) $(TASK_OPTS) --device $(DEVICE) $(ARGS)

data:
	$(DLBENCH) data fetch

results:
	$(DLBENCH) results

# every image built here (or FRAMEWORK=name1,name2), every variant, tiny batches; exit 1 on any
# mismatch, failure or adapter without the equivalence functions
check-models:
	$(DLBENCH) check-models $(if $(filter command line,$(origin FRAMEWORK)),$(subst $(comma), ,$(FRAMEWORK))) $(ARGS)

report:
	$(DLBENCH) report

# render, then a full-page PNG of results/report.html by headless Chromium (Debian: chromium)
report-screenshot: report
	$(PYTHON) -m harness.results.browser screenshot results/report.html results/report.png

# two pytest-xdist workers (TEST_JOBS=0: all in this process): engine tests side by side, those
# marked `alone` by themselves, an xdist_group's tests in one worker (tests/conftest.py); the 25
# slowest listed, to keep CI within its time
TEST_JOBS ?= 2
test:
	$(PYTHON) -m pytest -ra --durations=25 -n $(TEST_JOBS) --dist loadgroup

test-unit:
	$(PYTHON) -m pytest -ra -m "not engine"

# docs/ as a site (mkdocs.yml); --strict: a broken link or anchor between the pages fails it
docs:
	$(PYTHON) -m mkdocs build --strict --site-dir site

overhead:
	$(PYTHON) bench/harness_overhead.py

# bench/framework_vs_plain.py for every image and variant built here (`dlbench list --runs`:
# discovered, nothing listed by hand), inside the framework's own (already built) image: network
# off, the repository mounted read-only. Prints figures; a framework without a plain loop in the
# script says so (PyTorch's is bench/runner_vs_plain.py), and so does a GPU-only variant (TF32,
# mixed precision: these scripts time the CPU). An image without Python 3 (cntk-2.7, Python 2.7)
# runs bench/cntk_vs_plain.py instead (CNTK's plain loop; Keras 2's fit comparison), which keeps
# to Python 2.7.
VS_ARGS ?= --examples 3200 --images 96 --pairs 3
adapters-vs-plain:
	@$(DLBENCH) list --runs | while read -r image adapter variant; do \
	    echo "### $$image $$adapter $$variant"; \
	    docker run --rm --network none --user $$(id -u):$$(id -g) -v "$(CURDIR)":/src:ro \
	        -w /src -e TF_CPP_MIN_LOG_LEVEL=2 dlbench/$$image sh -c \
	        'command -v python3 >/dev/null && exec python3 "$$@"; shift; exec python2 bench/cntk_vs_plain.py "$$@"' \
	        sh bench/framework_vs_plain.py $$adapter --variant $$variant $(VS_ARGS) \
	        || exit 1; \
	done

# compose.yaml is generated and committed (tests/unit/images/test_catalog_compose.py fails when it is stale):
# after dropping an image into images/, `make compose.yaml` is the one edit besides its files
compose.yaml: $(wildcard images/*/Dockerfile) harness/images/compose.py
	$(PYTHON) -m harness.images.compose > $@
