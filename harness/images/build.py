"""Building an image: make sure its base exists (pull, else the images/_base/ recipe), assemble the
context, reuse a built image whose context hash matches, else build through the SDK while the
log streams to a file under results/logs/ and a short progress display."""
import os
import re
import subprocess
import time

import click

from ..core import catalog, paths
from . import buildcontext
from ..containers import engine
from ..core.errors import HarnessError

_STEP = re.compile(r"^Step \d+/\d+ :")


class Built(object):
    def __init__(self, image, image_id, digest, built, log_path=None):
        self.image = image
        self.image_id = image_id
        self.digest = digest
        self.built = built          # False: an existing image was reused
        self.log_path = log_path


def stamp():
    return time.strftime("%Y%m%d-%H%M%S")


def _run_script(script, ref, log):
    proc = subprocess.Popen(["sh", script, ref], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    tail = []
    for line in proc.stdout:
        if log:
            log.write(line)
        tail = (tail + [line.rstrip()])[-5:]
    if proc.wait() != 0:
        raise HarnessError("making base image %s failed: %s (run `sh %s` to see why)"
                           % (ref, tail[-1] if tail else "no output", script))


def _build_recipe(dockerfile, ref, log):
    folder = os.path.dirname(dockerfile)
    try:
        for chunk in engine.client().api.build(path=folder, tag=ref, rm=True, forcerm=True,
                                               decode=True):
            if log and "stream" in chunk:
                log.write(chunk["stream"])
            if "error" in chunk:
                raise HarnessError("making base image %s from %s failed: %s"
                                   % (ref, folder, engine.one_line(chunk["error"])))
    except HarnessError:
        raise
    except Exception as e:
        raise HarnessError("making base image %s from %s failed: %s"
                           % (ref, folder, engine.short_error(e)))


def ensure_base(ref, echo=click.echo, log=None):
    """The id of base image `ref`: present, pulled, or made by its images/_base/ recipe."""
    img = engine.local_image(ref)
    if img is not None:
        return img.id
    recipe = catalog.base_recipes().get(ref)
    if recipe is None or not ref.startswith(catalog.REPOSITORY + "/"):
        echo("base image %s is not here: pulling it" % ref)
        try:
            repo, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "")
            return engine.client().images.pull(repo, tag=tag or "latest").id
        except Exception as e:
            echo("pull failed (%s)" % engine.short_error(e))
    if recipe is None:
        raise HarnessError("base image %s cannot be pulled and no images/_base/*/ recipe "
                           "provides it: load it with `docker load` or pass --base" % ref)
    echo("making %s with %s (a few minutes)" % (ref, os.path.relpath(recipe)))
    if recipe.endswith(".sh"):
        _run_script(recipe, ref, log)
    else:
        _build_recipe(recipe, ref, log)
    img = engine.local_image(ref)
    if img is None:
        raise HarnessError("%s ran but %s is still missing" % (recipe, ref))
    return img.id


def find_built(digest):
    """A local image built from exactly this context, or None."""
    found = engine.client().images.list(filters={"label": "%s=%s"
                                                 % (catalog.CONTEXT_HASH_LABEL, digest)})
    return found[0] if found else None


def _build_args(base, build_args):
    args = dict(build_args or {})
    if base:
        args["BASE"] = base
    return args


def plan(image, base=None, build_args=None, offline=False, echo=click.echo, log=None):
    """(context, build args, digest): what a build would send, base image made sure of."""
    args = _build_args(base, build_args)
    ctx = buildcontext.assemble(image, offline=offline)
    base_ref = args.get("BASE") or image.base
    base_id = ensure_base(base_ref, echo=echo, log=log) if base_ref else None
    return ctx, args, ctx.digest(args, base_id)


def check_declaration(image, tasks_root=None):
    """Raise one line naming what the image's LABELs lack (catalog.Image.problems): the check
    `bench` makes before it runs an image, made before a build."""
    problems = image.problems(tasks_root or paths.tasks_dir())
    if problems:
        raise HarnessError("images/%s/Dockerfile: %s: not built (`bench` refuses such an image; "
                           "see the LABEL table in docs/adding-a-framework.md)" % (image.name, "; ".join(problems)))


def ensure_built(image, base=None, build_args=None, offline=False, force=False, verbose=False,
                 echo=click.echo, results_root=None):
    """Reuse the image built from the same context, or build it now. An image whose Dockerfile
    lacks a required LABEL (or names adapter files that are not there) is refused before
    anything is sent: `bench` would refuse the image it made."""
    check_declaration(image)
    start = time.time()
    ctx, args, digest = plan(image, base, build_args, offline, echo=echo)
    if not force:
        existing = find_built(digest)
        if existing is not None:
            if image.tag not in existing.tags:
                existing.tag(image.tag)
            return Built(image, existing.id, digest, False)
    logs = paths.logs_dir(results_root)
    os.makedirs(logs, exist_ok=True)
    log_path = os.path.join(logs, "build-%s-%s.log" % (image.name, stamp()))
    echo("building %s (context %.0f MB%s) -> %s; log: %s"
         % (image.name, ctx.size() / 1e6, ", offline" if offline else "", image.tag,
            os.path.relpath(log_path)))
    with open(log_path, "w") as log:
        log.write("# dlbench build %s\n# build args: %s\n# pip settings from: %s\n"
                  % (image.name, args, ", ".join(ctx.settings.sources) or "none"))
        for note in ctx.notes:
            log.write("# note: %s\n" % note)
        image_id = stream_build(image, ctx, args, digest, log, verbose, echo, log_path)
    took = time.time() - start
    echo("built %s in %.0f s (%s)" % (image.name, took, image_id[:19]))
    return Built(image, image_id, digest, True, log_path)


class BuildFailed(Exception):
    """The engine reported an error in a build's stream: its line, and the build's last line
    of output before it."""

    def __init__(self, error, last):
        Exception.__init__(self, error)
        self.error, self.last = error, last


def follow_build(stream, name, echo, verbose=False, log=None):
    """Read an engine build stream (the SDK's api.build(..., decode=True)) to its end: its
    output into log, the Dockerfile steps (every line when verbose) echoed as `  [name] ...`.
    Returns the image id the engine announced (None if it announced none); raises BuildFailed
    when the stream reports an error."""
    image_id, last = None, ""
    for chunk in stream:
        if "stream" in chunk:
            text = chunk["stream"]
            if log is not None:
                log.write(text)
                log.flush()
            for line in text.splitlines():
                if line.strip():
                    last = line.strip()
                    if verbose or _STEP.match(last):
                        echo("  [%s] %s" % (name, last[:150]))
        if "error" in chunk:
            if log is not None:
                log.write("ERROR: %s\n" % chunk["error"])
            raise BuildFailed(chunk["error"], last)
        aux = chunk.get("aux") or {}
        if "ID" in aux:
            image_id = aux["ID"]
    return image_id


def stream_build(image, ctx, args, digest, log, verbose, echo, log_path):
    labels = {catalog.CONTEXT_HASH_LABEL: digest, catalog.IMAGE_NAME_LABEL: image.name}
    with ctx.tarfile() as tar:
        try:
            stream = engine.client().api.build(
                fileobj=tar, custom_context=True, tag=image.tag, buildargs=args, labels=labels,
                rm=True, forcerm=True, pull=False, decode=True)
            image_id = follow_build(stream, image.name, echo, verbose, log)
        except BuildFailed as e:
            raise HarnessError("building %s failed: %s (full log: %s)"
                               % (image.name, engine.one_line(e.error), log_path))
        except Exception as e:
            raise HarnessError("building %s failed: %s (log: %s)"
                               % (image.name, engine.short_error(e), log_path))
    if image_id is None:
        image_id = engine.client().images.get(image.tag).id
    return image_id


def dangling_note(client=None):
    """One line on the untagged images the engine holds (builder stages of multi-stage builds,
    images a rebuild replaced): how many, how large, how to free them; None when there are none
    or the engine cannot say. They stay on purpose: a builder stage is the next build's cache."""
    try:
        found = (client or engine.client()).images.list(filters={"dangling": True})
        size = sum(int(img.attrs.get("Size") or 0) for img in found)
    except Exception:
        return None
    if not found:
        return None
    return ("note: the engine holds %d untagged image(s), %.1f GB (builder stages kept as build "
            "cache, images a rebuild replaced): `docker image prune -f` frees them; the next "
            "build of a changed image then redoes its builder stage" % (len(found), size / 1e9))


def ensure_built_all(images, jobs=1, base=None, build_args=None, offline=False, force=False,
                     verbose=False, echo=click.echo, results_root=None):
    """ensure_built for each image, up to `jobs` builds at a time (pip downloads, compiles and
    the engine's layer commits of two builds overlap on a small machine). The base images are
    made first, one at a time (two builds must not make the same base at once). Returns
    [(image, Built or HarnessError)] in the order given; a failed build does not stop the
    others."""
    from concurrent.futures import ThreadPoolExecutor
    done = []
    for image in images:  # declarations and bases before any build starts
        try:
            check_declaration(image)
            base_ref = _build_args(base, build_args).get("BASE") or image.base
            if base_ref:
                ensure_base(base_ref, echo=echo)
        except HarnessError as e:
            echo("%s: %s" % (image.name, e.message), err=True)
            done.append((image, e))
    failed = set(id(image) for image, _ in done)

    def one(image):
        try:
            return image, ensure_built(image, base=base, build_args=build_args, offline=offline,
                                       force=force, verbose=verbose, echo=echo,
                                       results_root=results_root)
        except HarnessError as e:
            echo("%s: %s" % (image.name, e.message), err=True)
            return image, e

    todo = [image for image in images if id(image) not in failed]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        done += list(pool.map(one, todo))
    order = dict((id(image), k) for k, image in enumerate(images))
    return sorted(done, key=lambda pair: order[id(pair[0])])
