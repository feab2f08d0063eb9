"""`dlbench vendor NAME`: one archive with everything the image's build fetches, and
`dlbench vendor-build ARCHIVE`: build from it with the network switched off.

The archive (an uncompressed tar: its big members are compressed already) holds

  manifest.json        name, build args, Python, the base reference and id, and the sha256 and
                       size of every other member
  base/image.tar       `docker save` of the base image (the tag its FROM resolves to)
  base/cache.tar       `docker save` of the image as built here: a layer cache (cache_from) for
                       the steps before `COPY _dlbench/` (apt-get of distribution packages)
  image/<name>/...     the image folder (Dockerfile, requirements*.txt, ...)
  wheels/...           `pip download` of the requirements the build installs, for the image's
                       Python and platform, with the host's pip settings (index, CA bundle,
                       find-links wheelhouse, constraints)
  artifacts/...        the Dockerfile's NAME_URL files, checked against NAME_SHA256
  data/...             datasets found valid in the data cache (checksums in the manifest)

vendor-build checks every member against the manifest, `docker load`s the base, and builds with
pip --no-index --find-links on the vendored wheels (URL artifacts go to _dlbench/artifacts/,
which the Dockerfiles use before their URL), in a build whose containers have network_mode
"none": nothing can be fetched, so a successful build proves the archive is complete.
"""
import datetime
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import click

from ..containers import engine
from ..core import catalog, paths, pipconf
from ..core.errors import HarnessError
from ..core.userinput import key_value_pairs, writable_file
from . import build, buildcontext, buildneeds, pkgindex, reachable

FORMAT = 2  # 2: "bases", every FROM image (1: "base", the ARG BASE image only)
FORMATS = (1, 2)  # what vendor-build reads


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def python_tags(python):
    major, minor = (pkgindex.version_tuple(python) + (0, 0))[:2]
    cp = "cp%d%d" % (major, minor)
    abi = cp + ("m" if (major, minor) < (3, 8) else "")
    return "%d.%d" % (major, minor), abi


def download_wheels(image, needs, build_args, dest, echo):
    """pip download, for the image's Python on linux x86_64, with the host's pip settings."""
    os.makedirs(dest, exist_ok=True)
    host = "%d.%d" % sys.version_info[:2]
    python = needs.python or host
    pip = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
           "--progress-bar", "off", "-d", dest]
    files = needs.requirement_files(build_args)
    run_pins = [(p, v) for p, v, where in needs.pins if where.endswith(" RUN")]
    if python == host:
        cmds = [pip + ["-r", os.path.join(image.folder, f)] for f in files]
        cmds += [pip + ["%s==%s" % pv] for pv in run_pins]
    else:
        # Another Python: pip resolves nothing for a foreign interpreter, so fetch each pin
        # (the requirements files pin everything) as a wheel for that Python, else its sdist.
        version, abi = python_tags(python)
        target = ["--no-deps", "--only-binary=:all:", "--python-version", version,
                  "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
                  "--platform", "linux_x86_64", "--platform", "manylinux1_x86_64",
                  "--platform", "manylinux2010_x86_64", "--platform", "manylinux2014_x86_64",
                  "--platform", "any"]
        pins = []
        for f in files:
            pins.extend(buildneeds.requirement_pins(os.path.join(image.folder, f)))
        pins += run_pins
        cmds = []
        for project, v in pins:
            spec = "%s==%s" % (project, v)
            cmds.append((pip + target + [spec], pip + ["--no-deps", "--no-binary=:all:", spec]))
    for cmd in cmds:
        alternatives = cmd if isinstance(cmd, tuple) else (cmd,)
        for i, c in enumerate(alternatives):
            proc = subprocess.run(c, capture_output=True, text=True)
            if proc.returncode == 0:
                break
            if i == len(alternatives) - 1:
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                raise HarnessError("pip download failed for %s: %s" % (c[-1], tail))
    echo("  wheels: %d files" % len(os.listdir(dest)))
    return files


def fetch_artifacts(needs, dest, supplied, http, echo):
    """Each NAME_URL of the image (not apt repositories or keys' folders) into dest, verified."""
    os.makedirs(dest, exist_ok=True)
    out = []
    for prefix, url, sha in needs.artifacts:
        if prefix.endswith("_REPO"):
            continue
        filename = url.rstrip("/").rsplit("/", 1)[-1]
        path = os.path.join(dest, filename)
        if prefix in supplied:
            shutil.copyfile(supplied[prefix], path)
        else:
            try:
                with http.open(url) as resp, open(path, "wb") as f:
                    shutil.copyfileobj(resp, f, 1 << 20)
            except (reachable.Unreachable, reachable.Gone) as e:
                raise HarnessError("%s_URL %s: %s; pass --artifact %s=FILE with a copy you "
                                   "trust" % (prefix, url, e, prefix))
        got = _sha256(path)
        if sha and got != sha.lower():
            raise HarnessError("%s_URL: sha256 %s, expected %s" % (prefix, got, sha))
        out.append({"arg": prefix, "url": url, "file": "artifacts/" + filename,
                    "sha256": got, "pinned": bool(sha)})
        echo("  artifact %s (%s)" % (filename, "sha256 verified" if sha else "unpinned"))
    return out


def vendor(name, out=None, build_args=None, supplied=None, with_data=True, with_cache=True,
           echo=click.echo):
    """Write the archive; returns its path."""
    image = catalog.lookup([name])[0]
    build_args = dict(build_args or {})
    needs = buildneeds.image_needs(image.folder)
    if out is None:
        out = os.path.join(paths.results_dir(), "vendor", "%s.tar" % name)
        writable_file(out, "archive")
    else:
        writable_file(out, "-o")
    work = tempfile.mkdtemp(prefix="dlbench-vendor-")
    try:
        manifest = {"format": FORMAT, "image": name, "python": needs.python,
                    "build_args": build_args,
                    "created": datetime.datetime.utcnow().replace(microsecond=0).isoformat()
                    + "Z", "members": {}}
        # every image the FROM lines start from (`FROM ${BASE}` and a literal `FROM debian:...`
        # alike): the reading doctor checks, with these build arguments
        manifest["bases"] = save_bases(needs.base_refs(build_args), name, work, echo)
        if with_cache:
            manifest["cache"] = save_layer_cache(image, work, echo)
        shutil.copytree(image.folder, os.path.join(work, "image", name),
                        ignore=shutil.ignore_patterns(buildcontext.GENERATED, ".*"))
        manifest["requirements"] = download_wheels(image, needs, build_args,
                                                   os.path.join(work, "wheels"), echo)
        manifest["artifacts"] = fetch_artifacts(needs, os.path.join(work, "artifacts"),
                                                supplied or {}, reachable.Http(timeout=60), echo)
        manifest["data"] = copy_datasets(work, echo) if with_data else []
        manifest["members"] = member_digests(work)
        write_archive(manifest, work, out)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def save_bases(base_refs, name, work, echo):
    """`docker save` each base image into work/base/; their manifest entries."""
    os.makedirs(os.path.join(work, "base"))
    bases = []
    for i, base_ref in enumerate(base_refs):
        base = engine.local_image(base_ref)
        if base is None:
            raise HarnessError("base image %s is not in the local engine: build or pull it "
                               "first (`dlbench build %s` does)" % (base_ref, name))
        echo("  docker save %s" % base_ref)
        rel = "base/image.tar" if i == 0 else "base/image-%d.tar" % (i + 1)
        with open(os.path.join(work, rel), "wb") as f:
            for chunk in base.save(named=base_ref):
                f.write(chunk)
        bases.append({"ref": base_ref, "id": base.id, "file": rel})
    return bases


def save_layer_cache(image, work, echo):
    """The built image, as a layer cache for the steps before the pip settings: its
    distribution-package layers (apt-get) then need no network either. The steps from
    `COPY _dlbench/` on differ in the offline context (no index) and run again offline.
    Returns its manifest entry."""
    built = engine.local_image(image.tag)
    if built is None:
        raise HarnessError("%s is not built here: run `dlbench build %s` first (its "
                           "apt layers go into the archive as a build cache), or pass "
                           "--no-cache-image" % (image.tag, image.name))
    echo("  docker save %s (layer cache for the apt steps)" % image.tag)
    cache_tag = "dlbench-vendor/%s:cache" % image.name
    built.tag(cache_tag)
    built = engine.client().images.get(cache_tag)
    os.makedirs(os.path.join(work, "base"), exist_ok=True)
    with open(os.path.join(work, "base", "cache.tar"), "wb") as f:
        for chunk in built.save(named=cache_tag):
            f.write(chunk)
    return {"ref": cache_tag, "id": built.id, "file": "base/cache.tar"}


def copy_datasets(work, echo):
    """The verified datasets of the cache into work/data/, with their published checksums."""
    from . import data
    folder = paths.data_dir()
    copied = []
    for ds in data.DATASETS.values():
        if os.path.isdir(folder) and data.is_valid(ds, folder):
            os.makedirs(os.path.join(work, "data"), exist_ok=True)
            shutil.copyfile(os.path.join(folder, ds.filename),
                            os.path.join(work, "data", ds.filename))
            copied.append({"name": ds.name, "file": "data/" + ds.filename,
                           ds.algorithm: ds.checksum, "source": ds.source})
        else:
            echo("  dataset %s: not in %s (run `dlbench data fetch`); left out"
                 % (ds.name, folder))
    return copied


def member_digests(work):
    """{relative path: sha256 and size} of every file under work."""
    members = {}
    for dirpath, _, filenames in os.walk(work):
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            members[os.path.relpath(path, work)] = {"sha256": _sha256(path),
                                                    "size": os.path.getsize(path)}
    return members


def write_archive(manifest, work, out):
    """manifest.json, then the members, into out (whole or not at all)."""
    tmp_out = out + ".part"
    try:
        with tarfile.open(tmp_out, "w") as tar:
            data_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data_bytes)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data_bytes))
            for rel in sorted(manifest["members"]):
                tar.add(os.path.join(work, rel), arcname=rel, recursive=False)
        os.replace(tmp_out, out)
    except OSError as e:
        if os.path.exists(tmp_out):
            os.remove(tmp_out)
        raise HarnessError("cannot write %s: %s" % (out, e.strerror or e))


def unpack(archive, dest):
    """Extract and verify every member against manifest.json (check_manifest); returns the
    manifest. Raises HarnessError (one line) for a file that is no tar archive, an unsafe
    member, a missing or malformed manifest, a member that is missing, changed or unlisted."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()  # headers only: nothing is written yet
            for member in members:
                if member.name.startswith("/") or ".." in member.name.split("/") or \
                        not (member.isfile() or member.isdir()):
                    raise HarnessError("%s: unsafe member %s" % (archive, member.name))
            manifest = _manifest_of(tar, archive)
            _check_sizes(members, manifest, archive, dest)
            tar.extractall(dest)
    except tarfile.TarError as e:
        raise HarnessError("%s is not a dlbench vendor archive (not a tar archive%s)"
                           % (archive, "" if "could not be opened" in str(e)
                              else ": " + engine.one_line(e, 200)))
    except (OSError, EOFError) as e:
        raise HarnessError("%s cannot be unpacked: %s" % (archive, getattr(e, "strerror", None)
                                                          or e))
    for rel, meta in manifest["members"].items():
        full = os.path.join(dest, rel)
        if not os.path.isfile(full) or _sha256(full) != meta["sha256"]:
            raise HarnessError("%s: member %s is missing or its sha256 differs from the "
                               "manifest" % (archive, rel))
    for rel in _files(dest):
        if rel != "manifest.json" and rel not in manifest["members"]:
            raise HarnessError("%s: member %s is not in the manifest" % (archive, rel))
    return manifest


MAX_MANIFEST_BYTES = 16 << 20


def _manifest_of(tar, archive):
    """The archive's manifest.json, read from the tar before anything is extracted, checked."""
    try:
        member = tar.getmember("manifest.json")
    except KeyError:
        raise HarnessError("%s has no manifest.json: not a dlbench vendor archive" % archive)
    if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
        raise HarnessError("%s: manifest.json is not a file of at most %d MiB"
                           % (archive, MAX_MANIFEST_BYTES >> 20))
    try:
        manifest = json.loads(tar.extractfile(member).read().decode("utf-8"))
    except RecursionError:
        raise HarnessError("%s: manifest.json is nested deeper than a JSON reader goes" % archive)
    except ValueError as e:
        raise HarnessError("%s: manifest.json is not JSON (%s)" % (archive, e))
    return check_manifest(manifest, archive)


def _check_sizes(members, manifest, archive, dest):
    """Before extracting: every file member is listed with its size, and they fit the disk (a
    small compressed archive could otherwise write gigabytes before any check)."""
    listed = manifest["members"]
    total = 0
    for member in members:
        if not member.isfile() or member.name == "manifest.json":
            continue
        meta = listed.get(member.name)
        if meta is None:
            raise HarnessError("%s: member %s is not in the manifest" % (archive, member.name))
        if member.size != meta["size"]:
            raise HarnessError("%s: member %s holds %d bytes, the manifest says %d"
                               % (archive, member.name, member.size, meta["size"]))
        total += member.size
    free = shutil.disk_usage(dest).free
    if total > free:
        raise HarnessError("%s unpacks to %d MB and %s has %d MB free: free space or set TMPDIR"
                           % (archive, total >> 20, dest, free >> 20))


def _safe_member(rel):
    """A member path that stays inside the archive: relative, no '..', no empty parts."""
    parts = rel.split("/") if isinstance(rel, str) else []
    return bool(parts) and not rel.startswith("/") and "\\" not in rel and \
        all(p not in ("", ".", "..") for p in parts)


def check_manifest(manifest, archive):
    """The manifest of a vendor archive, every field vendor-build uses checked before anything
    is read through it: the image name as strictly as on the command line (catalog.check_name:
    `"image": "../../../etc"` is refused, never a path), member paths inside the archive, the
    files it names among the members, build arguments as strings. Returns it with "bases" (a
    format 1 archive's "base" becomes a list of one)."""
    def bad(why):
        raise HarnessError("%s: manifest.json %s" % (archive, why))

    if not isinstance(manifest, dict):
        bad("is not a JSON object")
    if manifest.get("format") not in FORMATS:
        bad("has format %s; this dlbench reads format %s" % (
            json.dumps(manifest.get("format")), " or ".join(str(f) for f in FORMATS)))
    try:
        catalog.check_name(manifest.get("image"))
    except HarnessError as e:
        bad("image: %s" % e.message)
    members = manifest.get("members")
    if not isinstance(members, dict):
        bad("has no members table")
    for rel, meta in members.items():
        if not _safe_member(rel):
            bad("lists the member %r, a path outside the archive" % rel)
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
            bad("gives member %s no sha256" % rel)
    dockerfile = "image/%s/Dockerfile" % manifest["image"]
    if dockerfile not in members:
        bad("lists no %s" % dockerfile)
    args = manifest.get("build_args") or {}
    if not isinstance(args, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in args.items()):
        bad("has build_args that are not KEY: \"VALUE\" strings")
    bases = manifest.get("bases")
    if bases is None:
        bases = [manifest["base"]] if manifest.get("base") else []
    if not isinstance(bases, list):
        bad("has bases that are not a list")
    for entry in bases + ([manifest["cache"]] if manifest.get("cache") else []):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry.get(k)
                                                  for k in ("ref", "id", "file")):
            bad("has a base image entry without ref, id and file: %s" % json.dumps(entry)[:100])
        if entry["file"] not in members:
            bad("names %s, which is not among its members" % entry["file"])
        if any(c.isspace() for c in entry["ref"]) or entry["ref"].startswith("-"):
            bad("names the image reference %r" % entry["ref"])
    manifest["bases"] = bases
    for rel, meta in members.items():  # what the unpacking checks the tar's headers against
        if not isinstance(meta.get("size"), int) or isinstance(meta["size"], bool) or \
                meta["size"] < 0:
            bad("gives member %s no size" % rel)
    return manifest


def _files(root):
    for dirpath, _, filenames in os.walk(root):
        for fn in filenames:
            yield os.path.relpath(os.path.join(dirpath, fn), root)


class VendoredContext(buildcontext.Context):
    """The harness's build context, with pip pointed at the vendored wheels only (no index)
    and the URL artifacts under _dlbench/artifacts/."""

    def __init__(self, image, wheels_dir, artifacts_dir):
        self._wheels_dir = wheels_dir
        self._artifacts_dir = artifacts_dir
        settings = pipconf.PipSettings({"find-links": wheels_dir, "no-index": "true"},
                                       ["dlbench vendor archive"])
        buildcontext.Context.__init__(self, image, settings, offline=True)

    def _wheels(self):
        out = {}
        for folder, prefix in ((self._wheels_dir, "/wheels/"),
                               (self._artifacts_dir, "/artifacts/")):
            if os.path.isdir(folder):
                for name in sorted(os.listdir(folder)):
                    out[buildcontext.GENERATED + prefix + name] = os.path.join(folder, name)
        return out


def build_from(archive, verbose=False, echo=click.echo, network_mode="none", tag=None):
    """Load the base, build the image from the archive with no network. Returns (image id,
    seconds of the build itself)."""
    import docker
    work = tempfile.mkdtemp(prefix="dlbench-vendor-build-")
    try:
        manifest = unpack(archive, work)
        name = manifest["image"]
        image = catalog.load_image(os.path.join(work, "image", name))
        problems = image.problems()
        if problems:
            raise HarnessError("%s: image/%s/Dockerfile: %s" % (archive, name,
                                                                "; ".join(problems)))
        client = engine.client()
        bases = manifest["bases"]
        for base in bases:
            with open(os.path.join(work, base["file"]), "rb") as f:
                loaded = client.images.load(f)
            echo("  loaded base %s (%s)" % (base["ref"], ", ".join(
                t for img in loaded for t in img.tags) or loaded[0].id[:19]))
        cache_from = []
        cache = manifest.get("cache")
        if cache:
            with open(os.path.join(work, cache["file"]), "rb") as f:
                client.images.load(f)
            cache_from = [cache["ref"]]
            echo("  loaded layer cache %s" % cache["ref"])
        ctx = VendoredContext(image, os.path.join(work, "wheels"), os.path.join(work, "artifacts"))
        args = dict(manifest.get("build_args") or {})
        if bases and "BASE" in image.args:
            args.setdefault("BASE", bases[0]["ref"])
        base_ids = ",".join(b["id"] for b in bases) or None
        labels = {catalog.CONTEXT_HASH_LABEL: ctx.digest(args, base_ids),
                  catalog.IMAGE_NAME_LABEL: name,
                  catalog.LABEL_PREFIX + "vendor-archive": os.path.basename(archive)}
        start = time.time()
        with ctx.tarfile() as tar:
            try:
                stream = client.api.build(fileobj=tar, custom_context=True,
                                          tag=tag or image.tag, buildargs=args, labels=labels,
                                          rm=True, forcerm=True, pull=False, decode=True,
                                          network_mode=network_mode,
                                          cache_from=cache_from or None)
                image_id = build.follow_build(stream, name, echo, verbose)
            except build.BuildFailed as e:
                raise HarnessError("offline build of %s failed: %s (last: %s)" % (
                    name, engine.one_line(e.error), e.last[:200]))
            except Exception as e:  # the engine refused the build (a Dockerfile parse error)
                raise HarnessError("offline build of %s failed: %s"
                                   % (name, engine.short_error(e)))
        took = time.time() - start
        if image_id is None:
            try:
                image_id = client.images.get(tag or image.tag).id
            except docker.errors.ImageNotFound:
                raise HarnessError("offline build of %s produced no image" % name)
        return image_id, took
    finally:
        shutil.rmtree(work, ignore_errors=True)


@click.command("vendor")
@click.argument("name")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="archive path (default: results/vendor/NAME.tar)")
@click.option("--build-arg", "build_args", multiple=True, callback=key_value_pairs,
              metavar="KEY=VALUE",
              help="build arguments the vendored build will use (they choose requirements)")
@click.option("--artifact", "artifacts", multiple=True, callback=key_value_pairs,
              metavar="NAME=FILE",
              help="a local copy of the Dockerfile's NAME_URL file (checked against NAME_SHA256)")
@click.option("--no-data", is_flag=True, help="leave the datasets out")
@click.option("--no-cache-image", is_flag=True,
              help="leave out the built image (the layer cache for apt steps); the offline "
                   "build then needs those steps cached on its engine already")
def vendor_command(name, out, build_args, artifacts, no_data, no_cache_image):
    """Save everything NAME's build needs into one archive (base image, wheels, URL artifacts,
    datasets, the image folder, manifest.json with sha256 of every member)."""
    start = time.time()
    path = vendor(name, out, build_args, artifacts, with_data=not no_data,
                  with_cache=not no_cache_image)
    click.echo("wrote %s (%.0f MB) in %.0f s; build it offline with: dlbench vendor-build %s"
               % (path, os.path.getsize(path) / 1e6, time.time() - start, path))


@click.command("vendor-build")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--tag", help="tag the result (default: dlbench/NAME:latest)")
@click.option("-v", "--verbose", is_flag=True, help="show the whole build log")
def vendor_build_command(archive, tag, verbose):
    """Build the image in a `dlbench vendor` ARCHIVE with no network (network_mode none)."""
    image_id, took = build_from(archive, verbose=verbose, tag=tag)
    click.echo("built %s from %s with no network in %.0f s" % (image_id[:19], archive, took))
