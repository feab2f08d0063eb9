"""The `dlbench check-models` summaries under results/check-models/, as the report reads them
(harness/checks/check_models.py writes them)."""
import json
import os

from ..core import paths


def summaries(results_root=None):
    """Every readable check-models summary under results/check-models/, oldest first."""
    root = os.path.join(results_root or paths.results_dir(), "check-models")
    if not os.path.isdir(root):
        return []
    found = []
    for name in sorted(f for f in os.listdir(root) if f.endswith(".json")):
        try:
            with open(os.path.join(root, name)) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        if doc.get("kind") == "check-models":
            found.append(doc)
    return found


def latest(results_root=None):
    """The newest check-models summary under results/check-models/, or None."""
    found = summaries(results_root)
    return found[-1] if found else None


def latest_rows(results_root=None):
    """[(summary, row)]: for each (image, variant, task) the row of the newest summary that
    checked it, so a check of one image does not hide an earlier check of the others."""
    newest = {}
    for doc in summaries(results_root):
        for r in doc.get("rows", []):
            newest[(r.get("image"), r.get("variant"), r.get("task"))] = (doc, r)
    return [newest[k] for k in sorted(newest, key=lambda k: tuple(str(x) for x in k))]
