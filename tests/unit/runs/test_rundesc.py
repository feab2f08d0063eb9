"""The run description (harness/runs/runspec.py): one plain JSON object per run, from which the local
path and a SLURM node make the same container."""
import json

import pytest

from helpers.fakes import stand_in_run
from harness.containers import hardening
from harness.runs import orphans, runspec


def test_a_run_spec_is_plain_json_and_reads_back_equal(tmp_path):
    run = stand_in_run(tmp_path, env={"OMP_NUM_THREADS": "2"}, memory="3g")
    spec = run.spec()
    text = spec.to_json()
    doc = json.loads(text)  # nothing but JSON in it
    assert doc["runspec_version"] == runspec.VERSION
    assert doc["command"] == run.command() and doc["image_id"] == run.image_obj.id
    back = runspec.RunSpec.from_json(text)
    assert back == spec
    path = str(tmp_path / "run.json")
    spec.write(path)
    assert runspec.RunSpec.read(path) == spec


def test_the_local_container_is_made_from_the_spec(tmp_path):
    """Run.container_args() is the spec's docker_args(): the local path and a node (SpecRun of
    the spec read back from JSON) give the engine the same arguments."""
    run = stand_in_run(tmp_path, env={"FOO": "1"}, memory="2g")
    local = run.container_args()
    node = runspec.SpecRun(runspec.RunSpec.from_json(run.spec().to_json())).container_args()
    assert local == node
    for key, value in hardening.settings(environment={"FOO": "1"}).items():
        assert node[key] == value, key
    assert node["volumes"][run.dir] == {"bind": "/results", "mode": "rw"}
    assert node["mem_limit"] == "2g" and "device_requests" not in node


def test_a_spec_run_carries_the_owner_labels_and_the_run_fields(tmp_path):
    run = stand_in_run(tmp_path)
    srun = runspec.SpecRun(run.spec(), {"host": "node7"})
    labels = srun.create_args()["labels"]
    assert labels[orphans.DIR_LABEL] == run.dir
    assert labels[orphans.ADAPTER_LABEL] == run.adapter
    for field in ("task", "adapter", "variant", "device", "source", "repeat", "label", "dir",
                  "result_path", "log_path", "events_path"):
        assert getattr(srun, field) == getattr(run, field), field
    assert srun.image.name == run.image.name and srun.opts.run_id == run.opts.run_id
    assert srun.opts.timeout == run.opts.timeout
    assert srun.prov["host"] == "node7" and srun.prov["image"] == "pytorch-2.13"


def test_gpu_runs_ask_for_gpus_and_a_node_narrows_them(tmp_path):
    run = stand_in_run(tmp_path)
    spec = run.spec()
    spec.gpus = -1
    assert spec.docker_args()["device_requests"][0]["Count"] == -1
    narrowed = runspec.SpecRun(spec, gpu_ids=["2", "3"]).container_args()
    assert narrowed["device_requests"][0]["DeviceIDs"] == ["2", "3"]


def test_another_version_or_an_unknown_field_is_refused(tmp_path):
    doc = stand_in_run(tmp_path).spec().to_dict()
    with pytest.raises(ValueError, match="same dlbench"):
        runspec.RunSpec.from_dict(dict(doc, runspec_version=99))
    with pytest.raises(ValueError, match="unknown RunSpec field"):
        runspec.RunSpec.from_dict(dict(doc, surprise=1))


def test_node_provenance_names_the_node_job_and_partition():
    prov = runspec.node_provenance({"SLURMD_NODENAME": "gpu03", "SLURM_JOB_ID": "41",
                                    "SLURM_JOB_PARTITION": "a100"})
    assert prov["host"] == "gpu03"
    assert prov["slurm"] == {"job_id": "41", "node": "gpu03", "partition": "a100",
                             "cluster": None}
    assert "slurm" not in runspec.node_provenance({"SLURMD_NODENAME": "x"})
