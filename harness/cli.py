"""The `dlbench` command line. Each command is a thin shell over one module; add a command by
writing a function below (or in its own module) and decorating it with @main.command()."""
import sys

import click

from . import catalog, paths


def _kv(ctx, param, values):
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise click.BadParameter("expected KEY=VALUE, got %r" % v)
        out[key] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlbench")
def main():
    """dlbench: the same deep-learning benchmarks in every framework, one Docker image each.

    Typical use: `dlbench list`, then `dlbench bench pytorch-2.13 --synthetic`, then
    `dlbench results` and `dlbench report`."""


@main.command("list")
def list_images():
    """List the benchmark images (images/*/Dockerfile) and the tasks each supports."""
    from . import listing
    listing.print_catalog()


@main.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--base", help="base image (overrides the Dockerfile's ARG BASE)")
@click.option("--build-arg", "build_args", multiple=True, callback=_kv, metavar="KEY=VALUE",
              help="extra build argument (repeatable), e.g. TORCH_BUILD=cuda")
@click.option("--offline", is_flag=True, help="pip uses the wheelhouse only (no index)")
@click.option("--force", is_flag=True, help="build even when an image of this context exists")
@click.option("-v", "--verbose", is_flag=True, help="show the whole build log")
def build(names, base, build_args, offline, force, verbose):
    """Build the images NAMES (reused when nothing changed)."""
    from . import build as builder
    for image in catalog.lookup(names):
        done = builder.ensure_built(image, base=base, build_args=build_args, offline=offline,
                                    force=force, verbose=verbose)
        if not done.built:
            click.echo("%s is up to date (%s)" % (image.name, done.image_id[:19]))


if __name__ == "__main__":
    sys.exit(main())
