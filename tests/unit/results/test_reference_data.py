"""harness/results/data/reference_2017.json beyond the single-GPU tables: the 2018 multi-GPU DenseNet-121
tables and the accuracies the notebooks print where the README has none (issue 12, point 9).

Every number below was read from ilkarman/DeepLearningFrameworks at commit
671e2a0198ff6b82babab2661295b8d49b4baccf (2018-06-19): README.md section '2. Training Time:
DenseNet-121 on ChestXRay - Image Recognition (Multi-GPU)' for the minutes,
notebooks/<Framework>_MultiGPU.ipynb (cell comments '# 1 GPU - Main training loop: 26min 50s',
'# 4 GPU AUC: 0.8079', ...) for seconds and AUCs, notebooks/common/params_dense.py for the
hyper-parameters, and the Knet_*, KerasR_TF_* and Gluon_RNN notebooks' printed accuracies."""
import json
import os
import re

import pytest

from harness.results import report

from helpers import ROOT
COMMIT = "671e2a0198ff6b82babab2661295b8d49b4baccf"

# README at COMMIT, section 2: (real 1xV100, real 4xV100, synthetic 1xV100, synthetic 4xV100), min
README_MINUTES = {
    "PyTorch": (27, 10, 25, 8),
    "Keras(TF)": (38, 18, 36, 15),
    "Tensorflow": (33, 22, 25, 14),
    "Chainer": (29, 8, 27, 7),
    "MXNet(Gluon)": (29, 10, 28, 8),
}
# cell comments of the notebooks at COMMIT: '# 1 GPU AUC: ...', '# 4 GPU AUC: ...'
NOTEBOOK_AUC = {
    "PyTorch": (0.8156, 0.8079),      # PyTorch_MultiGPU.ipynb
    "Keras(TF)": (0.8146, 0.8112),    # Keras_TF_MultiGPU.ipynb
    "Tensorflow": (0.8009, 0.8120),   # Tensorflow_MultiGPU.ipynb
    "Chainer": (0.8022, 0.5511),      # Chainer_MultiGPU.ipynb (README note 1: AUC drop)
    "MXNet(Gluon)": (0.8235, 0.8145),  # Gluon_MultiGPU.ipynb
}


@pytest.fixture(scope="module")
def ref():
    return report.load_reference()


@pytest.fixture(scope="module")
def densenet(ref):
    return ref["multi_gpu"]["densenet"]


def test_the_single_gpu_structure_the_report_reads_is_unchanged(ref):
    assert list(ref)[:6] == ["about", "source", "hardware", "frameworks", "match_rules", "tasks"]
    assert [h["key"] for h in ref["hardware"]] == ["K80", "P100"]
    assert sorted(ref["tasks"]) == ["cnn", "inference", "rnn"]
    assert "multi_gpu" in ref["about"]


def test_densenet_section_shape(ref, densenet):
    for key in ("title", "table", "source", "unit", "unit_label", "lower_is_better", "data",
                "hardware", "hyperparameters", "rows"):
        assert key in densenet, key
    assert densenet["unit"] == "min" and densenet["lower_is_better"] is True
    assert [(h["key"], h["gpus"]) for h in densenet["hardware"]] == [("1xV100", 1), ("4xV100", 4)]
    assert sorted(densenet["data"]) == ["real", "synthetic"]
    names = {f["name"] for f in ref["frameworks"]}
    hw = [h["key"] for h in densenet["hardware"]]
    for row in densenet["rows"]:
        assert row["framework"] in names  # the same row names as the single-GPU tables
        assert row["notebook"].startswith("notebooks/") and row["versions"]
        for kind in ("real", "synthetic"):
            assert sorted(row["minutes"][kind]) == sorted(hw)
            assert sorted(row["notebook_seconds"][kind]) == sorted(hw)
        assert sorted(row["test_auc"]) == sorted(hw)
    json.dumps(densenet)


def test_densenet_minutes_are_the_readme_tables(densenet):
    got = dict((r["framework"], (r["minutes"]["real"]["1xV100"], r["minutes"]["real"]["4xV100"],
                                 r["minutes"]["synthetic"]["1xV100"],
                                 r["minutes"]["synthetic"]["4xV100"])) for r in densenet["rows"])
    assert got == README_MINUTES


def test_densenet_notebook_times_round_to_the_readme_minutes(densenet):
    """Two sources typed separately agree: each README cell is its notebook time rounded."""
    for row in densenet["rows"]:
        for kind in ("real", "synthetic"):
            for hw, minutes in row["minutes"][kind].items():
                assert int(row["notebook_seconds"][kind][hw] / 60.0 + 0.5) == minutes, (
                    row["framework"], kind, hw)
    pytorch = [r for r in densenet["rows"] if r["framework"] == "PyTorch"][0]
    assert pytorch["notebook_seconds"]["real"]["1xV100"] == 26 * 60 + 50  # '26min 50s'
    assert pytorch["notebook_seconds"]["synthetic"]["4xV100"] == 8 * 60 + 27  # '8min 27s'


def test_densenet_auc_spot_values(densenet):
    got = dict((r["framework"], (r["test_auc"]["1xV100"], r["test_auc"]["4xV100"]))
               for r in densenet["rows"])
    assert got == NOTEBOOK_AUC
    chainer = [r for r in densenet["rows"] if r["framework"] == "Chainer"][0]
    assert any("AUC" in n for n in chainer["notes"])


def test_densenet_hyperparameters_are_params_dense(densenet):
    """notebooks/common/params_dense.py at the commit read: CLASSES 14, WIDTH/HEIGHT 224,
    CHANNELS 3, LR 0.0001, EPOCHS 5, BATCHSIZE 64, ImageNet mean/sd, TOT_PATIENT_NUMBER 30805."""
    hp = densenet["hyperparameters"]
    assert (hp["classes"], hp["width"], hp["height"], hp["channels"]) == (14, 224, 224, 3)
    assert (hp["lr"], hp["epochs"], hp["batch_size"]) == (0.0001, 5, 64)
    assert hp["imagenet_rgb_mean"] == [0.485, 0.456, 0.406]
    assert hp["imagenet_rgb_sd"] == [0.229, 0.224, 0.225]
    assert hp["patients"] == 30805 and hp["images"] == 112120
    assert hp["image_size_on_disk"] == [264, 264]
    assert "GPU count" in hp["multi_gpu_scaling"]


def test_densenet_provenance(densenet):
    src = densenet["source"]
    assert src["repository"].endswith("ilkarman/DeepLearningFrameworks")
    assert src["commit_read"] == COMMIT and src["commit_read_date"] == "2018-06-19"
    for key in ("minutes", "notebook_seconds", "test_auc", "hyperparameters"):
        assert src[key], key
    assert "params_dense.py" in src["hyperparameters"]
    assert all(re.match(r"^[0-9a-f]{7} 20\d\d-\d\d-\d\d", h) for h in src["history"])
    for row in densenet["rows"]:
        assert re.match(r"^[0-9a-f]{7} 2018-06-\d\d$", row["readme_row_last_changed"])
    for hw in densenet["hardware"]:
        assert hw["gpu"] == "NVIDIA Tesla V100-PCIE-16GB"  # as the notebooks print it
        assert hw["cuda"].startswith("9.") and hw["cudnn"].startswith("7.")


# printed by the notebooks at COMMIT, absent from the README (3 decimals; 4 where printed so)
NOTEBOOK_ACCURACY = {
    ("cnn", "Knet"): (0.775, "Knet_CNN"),                # prints 0.7754407051282052 (K80)
    ("cnn", "R-Keras(TF)"): (0.7685, "KerasR_TF_CNN"),   # prints "Accuracy: 0.7685" (P100)
    ("rnn", "Knet"): (0.845, "Knet_RNN"),                # prints 0.844511217948718 (K80)
    ("rnn", "R-Keras(TF)"): (0.851, "KerasR_TF_RNN"),    # prints "Accuracy: 0.85124" (P100)
    ("rnn", "MXNet(Gluon)"): (0.858, "Gluon_RNN"),       # prints 0.857892628205 (V100)
}


def test_accuracies_the_readme_lacks(ref):
    for (task, name), (accuracy, notebook) in NOTEBOOK_ACCURACY.items():
        row = [r for r in ref["tasks"][task]["rows"] if r["framework"] == name][0]
        assert row["accuracy"] == accuracy, (task, name)
        assert ("notebooks/%s.ipynb" % notebook) in row["accuracy_source"]
    assert "accuracy_source" in ref["source"]["accuracy"]


def test_the_report_still_renders_with_the_new_sections(tmp_path):
    """No results: the reference rows only; the accuracies added show in the 2017 columns."""
    written = report.render_report(str(tmp_path))
    md = open(written["md"]).read()
    assert "| Knet | not run |  | 159 | — | 0.775 |" in md  # (empty Weights cell: not run)
    assert "| MXNet(Gluon) | not run |  | — | — | 0.858 |" in md
    assert os.path.exists(written["html"])


def test_rows_dlbench_cannot_run_as_2017_did_say_so():
    """The report shows a 2017 row's notes: the Lasagne(Theano) row runs Lasagne 0.1 patched for
    Theano 1.0 (2017: 0.2.dev1, never released), and the CNTK rows run CNTK 2.7 on Python 2.7."""
    with open(os.path.join(ROOT, "harness", "results", "data", "reference_2017.json")) as f:
        tasks = json.load(f)["tasks"]
    lasagne = [r for r in tasks["cnn"]["rows"] if r["framework"] == "Lasagne(Theano)"][0]
    assert any("Lasagne 0.1" in n and "patches" in n and "0.2.dev1" in n
               for n in lasagne.get("notes", []))
    for task in ("cnn", "rnn", "inference"):
        cntk = [r for r in tasks[task]["rows"] if r["framework"] == "CNTK"][0]
        assert any("CNTK 2.7" in n and "Python 2.7" in n for n in cntk.get("notes", [])), task
