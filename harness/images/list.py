"""`dlbench list`: the catalog as a table."""
import click

from ..core import catalog, paths


def print_catalog():
    images = catalog.discover()
    if not images:
        click.echo("no images under %s (add images/<name>/Dockerfile)" % paths.images_dir())
        return
    tasks_root = paths.tasks_dir()
    rows = [("IMAGE", "ADAPTER", "TASKS", "VARIANTS", "DEVICES", "CUDA", "DESCRIPTION")]
    for img in images:
        rows.append((img.name, ",".join(img.adapters) or "?", ",".join(img.tasks) or "-",
                     ",".join(img.variants) or "reference", ",".join(img.devices) or "-",
                     img.cuda or "none", img.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    for img in images:
        for problem in img.problems(tasks_root):
            click.echo("warning: %s: %s" % (img.name, problem), err=True)


def print_runs():
    """One line per (image, adapter, variant) of the images built here (2017-era ones
    excepted), for scripts: `make adapters-vs-plain` loops over it."""
    for img in catalog.discover():
        if img.era == "current" and img.adapter:
            for variant in img.variants:
                click.echo("%s %s %s" % (img.name, img.adapter_for(variant), variant))
