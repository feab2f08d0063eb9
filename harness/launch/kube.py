"""`dlbench bench ... --on kubernetes --dry-run`: one batch/v1 Job manifest per run, written (not
applied) from the same run description every executor runs (harness/runs/runspec.py), plus one
NetworkPolicy that denies the run's pods every connection (ingress and egress), the cluster's
equivalent of the local runs' network_mode none.

What maps to what (the local hardening, harness/containers/hardening.py):
* user uid:gid -> securityContext runAsUser / runAsGroup, runAsNonRoot (uid 0 never: the
  local path runs as nobody then, so does the Job);
* no-new-privileges -> allowPrivilegeEscalation: false; cap_drop ALL -> capabilities.drop ALL;
* read-only root -> readOnlyRootFilesystem: true, with an emptyDir (medium Memory, the tmpfs'
  size) at /tmp;
* mounts -> hostPath volumes at the same paths (the shared filesystem must be mounted at the
  same path on the nodes, as for SLURM), readOnly where the local mount is read-only;
* --memory -> resources.limits.memory; GPUs -> limits nvidia.com/gpu (the NVIDIA device plugin);
* the run's timeout -> activeDeadlineSeconds; no retries (backoffLimit 0, restartPolicy Never).
* The pids limit has no per-container field in the Job API: the kubelet's podPidsLimit sets it
  per node (docs/cluster.md).

A manifest file holds the Jobs of one bench (one YAML document each) and the NetworkPolicy;
the same as JSON (one object per line) for tools without a YAML reader."""
import hashlib
import json
import os
import re

from ..containers import hardening
from ..core import userinput
from ..core.errors import HarnessError

API_GROUP_LABEL = "dlbench.org/run"


def k8s_name(text, limit=63):
    """A DNS-1123 label from text: lower case, [a-z0-9-], at most limit characters. A longer
    one is cut and ends in 8 hex digits of text's sha256, so two texts that differ only past the
    cut still give two names."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    if len(name) > limit:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        name = name[:limit - 9].rstrip("-") + "-" + digest
    return name or "run"


NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def check_namespace(namespace):
    """The namespace as given, or HarnessError: Kubernetes names a namespace with a DNS-1123
    label (lower case letters, digits and '-', at most 63, starting and ending alphanumeric)."""
    if not NAMESPACE.match(namespace or ""):
        raise HarnessError("--namespace %r is no Kubernetes namespace: lower-case letters, digits "
                           "and '-', 1 to 63 characters, starting and ending with a letter or "
                           "digit" % namespace)
    return namespace


def _quantity(memory):
    """A Docker memory limit (8g, 512m, 1.5g, 100000) as a Kubernetes quantity in bytes or Mi."""
    size = userinput.memory_bytes(memory)
    return "%dMi" % (size // (1024 ** 2)) if size % (1024 ** 2) == 0 else str(size)


def pod_volumes(spec):
    """(volumes, volume mounts) of a run's pod: its host folders, the scratch tmpfs of a
    read-only root, a bigger /dev/shm when the run asks for one."""
    h = spec.hardening
    volumes, mounts = [], []
    for i, m in enumerate(spec.mounts):
        name = "m%d-%s" % (i, k8s_name(m["target"].strip("/"), 40))
        volumes.append({"name": name, "hostPath": {"path": m["source"],
                                                   "type": "Directory"}})
        mounts.append({"name": name, "mountPath": m["target"], "readOnly": bool(m["read_only"])})
    if h.get("read_only"):
        size = (h.get("tmpfs") or {}).get(hardening.SCRATCH, "")
        found = re.search(r"size=([0-9]+[kmg]?)", size)
        scratch = {"medium": "Memory"}
        if found:
            scratch["sizeLimit"] = _quantity(found.group(1))
        volumes.append({"name": "scratch", "emptyDir": scratch})
        mounts.append({"name": "scratch", "mountPath": hardening.SCRATCH})
    if getattr(spec, "shm_size", None):  # a bigger /dev/shm (data-loader workers), as Docker's shm_size
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory",
                                                     "sizeLimit": _quantity(spec.shm_size)}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    return volumes, mounts


def job_manifest(spec, namespace="default", gpus=None):
    """The batch/v1 Job of one RunSpec (a plain dict)."""
    h = spec.hardening
    uid, gid = (int(x) for x in h["user"].split(":"))
    if uid == 0:
        uid, gid = hardening.NOBODY
    labels = {API_GROUP_LABEL: k8s_name(spec.run_id), "dlbench.org/image": k8s_name(
        spec.image_name), "dlbench.org/task": k8s_name(spec.task)}
    volumes, mounts = pod_volumes(spec)
    limits = {}
    if spec.memory:
        limits["memory"] = _quantity(spec.memory)
    n = spec.gpus if gpus is None else gpus
    if n:
        limits["nvidia.com/gpu"] = str(1 if n == -1 else int(n))
    container = {
        "name": "run",
        "image": spec.image_ref or spec.image_id,
        "imagePullPolicy": "IfNotPresent",
        "command": list(spec.command),
        "workingDir": h.get("working_dir") or hardening.SCRATCH,
        "env": [{"name": k, "value": str(v)}
                for k, v in sorted((h.get("environment") or {}).items())],
        "volumeMounts": mounts,
        "securityContext": {
            "runAsUser": uid, "runAsGroup": gid, "runAsNonRoot": True,
            "allowPrivilegeEscalation": "no-new-privileges" not in (h.get("security_opt")
                                                                    or []),
            "privileged": False,
            "capabilities": {"drop": list(h.get("cap_drop") or [])},
            "readOnlyRootFilesystem": bool(h.get("read_only")),
        },
    }
    if limits:
        container["resources"] = {"limits": limits}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": k8s_name(spec.name), "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": int(spec.timeout),
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": uid,
                                        "runAsGroup": gid, "fsGroup": gid,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def network_policy(run_id, namespace="default"):
    """Deny all ingress and egress of the run's pods (enforced where the cluster's network
    plugin supports NetworkPolicy)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": k8s_name("dlbench-%s-no-network" % run_id), "namespace": namespace,
                     "labels": {API_GROUP_LABEL: k8s_name(run_id)}},
        "spec": {"podSelector": {"matchLabels": {API_GROUP_LABEL: k8s_name(run_id)}},
                 "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []},
    }


def _yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def to_yaml(doc, indent=0):
    """A small YAML writer for manifests (dicts, lists, scalars; strings JSON-quoted)."""
    pad = " " * indent
    lines = []
    if isinstance(doc, dict):
        if not doc:
            return pad + "{}"
        for k, v in doc.items():
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 2))
            else:
                lines.append("%s%s: %s" % (pad, k, "{}" if v == {} else "[]" if v == []
                                           else _yaml_scalar(v)))
    elif isinstance(doc, list):
        for v in doc:
            if isinstance(v, (dict, list)) and v:
                inner = to_yaml(v, indent + 2).lstrip()
                lines.append("%s- %s" % (pad, inner))
            else:
                lines.append("%s- %s" % (pad, _yaml_scalar(v)))
    else:
        return pad + _yaml_scalar(doc)
    return "\n".join(lines)


def write_manifests(specs, out_dir, namespace="default"):
    """jobs.yaml (every Job, then the NetworkPolicy) and jobs.jsonl (the same, one JSON object a
    line) in out_dir; returns (yaml path, documents)."""
    docs = [job_manifest(s, namespace) for s in specs]
    if specs:
        docs.append(network_policy(specs[0].run_id, namespace))
    os.makedirs(out_dir, exist_ok=True)
    ypath = os.path.join(out_dir, "kubernetes-jobs.yaml")
    with open(ypath, "w") as f:
        f.write("# dlbench bench --on kubernetes --dry-run: apply with `kubectl apply -f` (see "
                "docs/cluster.md, \"Kubernetes\")\n")
        for d in docs:
            f.write("---\n" + to_yaml(d) + "\n")
    with open(os.path.join(out_dir, "kubernetes-jobs.jsonl"), "w") as f:
        for d in docs:
            f.write(json.dumps(d, sort_keys=True) + "\n")
    return ypath, docs
