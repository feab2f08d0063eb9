"""`dlbench doctor`: is everything an image's build needs still obtainable?

Old framework versions rot from the outside: registries delete tags (NVIDIA removed the CUDA 8.0
and 9.x tags in 2023), wheels vanish from indexes (torch 0.3.1 was only ever on PyTorch's own
wheel site), hosts go away. For every image doctor lists the external things its build
needs, read from files in images/<name>/ (no build, no engine needed):

  base images    FROM lines, with ${ARG} references resolved from the ARG defaults. When the
                 tag is made by a recipe under images/_base/ (a `# provides: TAG` line), the
                 recipe's own needs are checked too.
  pip pins       `name==version` lines of images/<name>/requirements*.txt and `pip install`
                 arguments of the Dockerfile's RUN lines; checked for the image's Python version
                 (LABEL org.dlbench.python) on linux x86_64 from the index's file list (PEP 691
                 JSON or PEP 503 HTML), never by downloading a wheel.
  URL artifacts  ARG pairs NAME_URL / NAME_SHA256: reachable and, when a sha256 is pinned,
                 its bytes hash to it (streamed, not stored). A NAME_URL without a NAME_SHA256
                 default is checked for reachability only and reported as unverified.

Each check ends in one status:
  ok           obtainable from where the build gets it
  rotted       the server answered and it is gone (404, no file for this Python/platform,
               yanked, sha256 differs): the detail says what to do
  unreachable  the host did not answer (DNS, refused, timeout, 5xx): NOT a pass
  local only   not obtainable from the network, but present on this machine (local engine,
               pip find-links wheelhouse, file:// index): `dlbench vendor` it before it goes
  unverified   reachable, but there is nothing pinned to verify it against
  to build     a dlbench/* base made by an images/_base recipe, not built on this machine yet
               (the recipe's own needs are checked on the following lines)

This module runs the checks per image and prints them; the pieces are harness.images.buildneeds (what
a build fetches, read from the files), harness.images.pkgindex (pins against package indexes),
harness.images.registry (base image tags), harness.images.reachable (the HTTP client, these statuses, URL
artifacts) and harness.core.tls (which certificates HTTPS trusts).
"""
import json
import os
from collections import OrderedDict

import click

from ..core import catalog, paths, tls
from ..core import pipconf
from .buildneeds import image_needs
from .pkgindex import Index, check_pin, glibc_for, index_urls_from_pip, normalise
from .registry import check_registry
from .reachable import (FAILING, LOCAL_ONLY, OK, ROTTED, TO_BUILD, UNREACHABLE, UNVERIFIED, Http,
                        check_artifact)


LOCAL_NAMESPACE = "dlbench/"  # tags made on this machine (recipes, builds), never pushed


class Finding(object):
    def __init__(self, image, kind, subject, status, detail=""):
        self.image, self.kind, self.subject = image, kind, subject
        self.status, self.detail = status, detail

    def as_dict(self):
        return OrderedDict([("image", self.image), ("kind", self.kind),
                            ("subject", self.subject), ("status", self.status),
                            ("detail", self.detail)])

    def __repr__(self):
        return "Finding(%s %s %s: %s)" % (self.image, self.kind, self.subject, self.status)


# --------------------------------------------------------------------------------------------
# Base images


def recipes(images_root=None):
    """tag -> recipe folder, for every base image an images/_base recipe makes."""
    return dict((ref, os.path.dirname(recipe))
                for ref, recipe in catalog.base_recipes(images_root).items())


def local_image_present(ref):
    """Is the reference in the local engine? None when there is no engine to ask."""
    try:
        import docker
        try:
            docker.from_env(timeout=10).images.get(ref)
            return True
        except docker.errors.ImageNotFound:
            return False
    except Exception:  # no SDK or no engine: say so, do not guess
        return None


def check_base(ref, http, made_by, local=local_image_present):
    recipe = made_by.get(ref)
    if ref.startswith(LOCAL_NAMESPACE):
        rel = os.path.relpath(recipe, paths.project_root()) if recipe else None
        present = local(ref)
        if present:
            return OK, "made on this machine%s; present in the local engine" % (
                " from " + rel if rel else "")
        if rel:
            return TO_BUILD, "not built yet: docker build -t %s %s (its needs are listed " \
                "below)" % (ref, rel)
        return ROTTED, "no recipe under images/_base provides %s and the engine lacks it" % ref
    status, detail = check_registry(ref, http)
    if status == OK:
        return status, detail
    recipe = made_by.get(ref)
    present = local(ref)
    if present:
        hint = " (recipe: %s)" % os.path.relpath(recipe, paths.project_root()) if recipe else ""
        return LOCAL_ONLY, "%s; the local engine has it%s: `dlbench vendor` keeps a copy" % (
            detail, hint)
    if recipe:
        rel = os.path.relpath(recipe, paths.project_root())
        return status, "%s; make it from the recipe: see %s/ (its own needs are listed " \
            "below)" % (detail, rel)
    if status == ROTTED:
        return status, "%s; point the Dockerfile's BASE build-arg at a mirror or add an " \
            "images/_base recipe" % detail
    return status, detail


# --------------------------------------------------------------------------------------------
# Running it


def _flatten_bases(needs):
    out = list(needs.bases)
    for r in needs.recipes:
        out.extend(_flatten_bases(r))
    return out


def diagnose(needs, index_urls, http, local_dirs=(), made_by=None, local=local_image_present,
             artifacts=True, label=None):
    """Findings for one image (and the recipes that make its base)."""
    label = label or needs.name
    made_by = recipes() if made_by is None else made_by
    findings = []
    for ref in needs.bases:
        status, detail = check_base(ref, http, made_by, local)
        findings.append(Finding(label, "base image", ref, status, detail))
    for recipe in needs.recipes:
        findings.extend(diagnose(recipe, index_urls, http, local_dirs, made_by, local,
                                 artifacts, label="%s <- _base/%s" % (label, recipe.name)))
    if needs.pins:
        python = needs.python or "3"
        glibc = glibc_for(_flatten_bases(needs))
        indexes = [Index(u, http) for u in index_urls]
        checked = {}
        for project, version, where in needs.pins:
            key = (normalise(project), version)
            if key not in checked:
                checked[key] = check_pin(project, version, python, indexes, local_dirs, glibc)
            status, detail = checked[key]
            findings.append(Finding(label, "pip (py%s)" % python,
                                    "%s==%s [%s]" % (project, version, where), status, detail))
    for prefix, url, sha in needs.artifacts:
        if not artifacts:
            continue
        if prefix.endswith("_REPO") and not sha:
            # an apt repository (flat, `deb URL /`): its package index must be there
            status, detail = check_artifact(url.rstrip("/") + "/Packages.gz", "", http)
            if status == UNVERIFIED:
                status, detail = OK, "apt repository answers (Packages.gz)"
        else:
            status, detail = check_artifact(url, sha, http)
        findings.append(Finding(label, "url", "%s_URL %s" % (prefix, url), status, detail))
    return findings


def run(images, index_url=None, timeout=20, environ=None, artifacts=True):
    env = os.environ if environ is None else environ
    settings = pipconf.read(env)
    http = Http(timeout=timeout, context=tls.ssl_context(env))
    urls = [index_url] if index_url else index_urls_from_pip(settings)
    local_dirs = settings.local_wheel_dirs()
    made_by = recipes()
    findings = []
    for image in images:
        needs = image_needs(image.folder)
        findings.extend(diagnose(needs, urls, http, local_dirs, made_by, artifacts=artifacts))
    return findings


def table(findings, width=None):
    headers = ("IMAGE", "KIND", "WHAT", "STATUS", "DETAIL / WHAT TO DO")
    rows = [(f.image, f.kind, f.subject, f.status, f.detail) for f in findings]
    widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(4)]
    widths = [min(w, cap) for w, cap in zip(widths, (40, 12, 70, 11))]

    def cut(text, w):
        return text if len(text) <= w else text[:w - 1] + "~"

    lines = ["  ".join(cut(h, w).ljust(w) for h, w in zip(headers[:4], widths)) + "  " +
             headers[4]]
    for r in rows:
        lines.append("  ".join(cut(c, w).ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return "\n".join(lines)


def summary(findings):
    counts = OrderedDict((s, 0) for s in (OK, LOCAL_ONLY, TO_BUILD, UNVERIFIED, ROTTED,
                                          UNREACHABLE))
    for f in findings:
        counts[f.status] = counts.get(f.status, 0) + 1
    return ", ".join("%d %s" % (n, s) for s, n in counts.items() if n)


# --------------------------------------------------------------------------------------------
# The command (cli.py adds it to the `dlbench` group)


@click.command("doctor")
@click.argument("names", nargs=-1)
@click.option("--index-url", default=None, metavar="URL",
              help="Package index to check pins against (default: the host's pip settings, "
                   "else https://pypi.org/simple).")
@click.option("--timeout", default=20, show_default=True, help="Seconds per network request.")
@click.option("--no-artifacts", is_flag=True,
              help="Skip URL artifacts (they are downloaded and hashed, which can take long).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def doctor_command(names, index_url, timeout, no_artifacts, as_json):
    """Check that everything each image's build needs is still obtainable.

    Base image tags (registry v2 API, then the local engine), every pinned pip requirement for
    the image's Python on linux x86_64 (index metadata only, no wheel downloads), and every
    NAME_URL/NAME_SHA256 artifact (reachable, sha256 matches). Exit status 1 when anything is
    rotted or unreachable."""
    images = catalog.lookup(list(names)) if names else catalog.discover()
    findings = run(images, index_url=index_url, timeout=timeout, artifacts=not no_artifacts)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        click.echo(table(findings))
        click.echo("\n" + summary(findings))
    if any(f.status in FAILING for f in findings):
        raise SystemExit(1)
