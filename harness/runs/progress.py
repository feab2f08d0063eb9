"""The progress events a benchmark container prints on stdout (one JSON object a line, with an
"event" key: start, progress, epoch, batch, end), each as one line for the host's progress display."""
import json


def describe_event(label, ev):
    """One display line for event `ev` of the run called `label` (e.g. "pytorch-2.13 cnn r1")."""
    kind = ev.get("event")
    if kind == "start":
        return "%s: started (%s %s, %s)" % (label, ev.get("framework"),
                                            ev.get("framework_version") or "", ev.get("device"))
    if kind == "epoch":
        return "%s: epoch %s/%s  loss %s  %.1f s" % (
            label, ev.get("epoch"), ev.get("epochs"),
            "%.4f" % ev["loss"] if isinstance(ev.get("loss"), (int, float)) else "-",
            ev.get("seconds") or 0.0)
    if kind == "progress":
        return "%s: epoch %s/%s  %s%s batches  %.1f images/s  %.0f s" % (
            label, ev.get("epoch"), ev.get("epochs"), ev.get("batches"),
            "/%s" % ev["of"] if ev.get("of") else "", ev.get("images_per_second") or 0.0,
            ev.get("seconds") or 0.0)
    if kind == "batch":
        return "%s: %s batches, %.1f images/s" % (label, ev.get("batches"),
                                                  ev.get("images_per_second") or 0.0)
    if kind == "end":
        return "%s: %s%s" % (label, ev.get("status"),
                             "" if ev.get("status") == "ok" else " (%s)" % ev.get("reason"))
    return "%s: %s" % (label, json.dumps(ev, sort_keys=True)[:120])
