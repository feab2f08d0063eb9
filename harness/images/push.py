"""Images in a registry, for runs on other machines: `dlbench push NAME... --registry HOST[:PORT]`
tags each built image HOST[:PORT]/dlbench/NAME:latest and pushes it; the registry names it by
digest (sha256 of its manifest), which results and provenance record (image_digest). A bench
with --registry gives each run that reference by digest (pushed_ref); the node pulls exactly it
and refuses it unless it is the image the host described (check_pulled: the image id, the sha256
of the image's config, must be the run's)."""
import re

from ..containers import engine
from ..core.errors import HarnessError

# a host name as Docker reads the first part of a reference: lower-case DNS labels joined by
# single dots, each starting and ending with a letter or digit; then an optional port
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_REGISTRY = re.compile(r"^%s(\.%s)*(:[0-9]{1,5})?$" % (_LABEL, _LABEL))


def check_registry(registry):
    """HOST or HOST:PORT (no scheme, no path), else one line saying what to pass. Docker takes
    the first part of HOST/dlbench/NAME for a registry only when it has a dot or a port, or is
    localhost (else it is a Docker Hub account): a bare word is refused, as are upper case,
    empty labels and ports outside 1..65535."""
    match = _REGISTRY.match(registry or "")
    port = int(registry.rsplit(":", 1)[1]) if match and ":" in registry else None
    if not match or (port is not None and not 0 < port < 65536) or (
            "." not in registry and ":" not in registry and registry != "localhost"):
        raise HarnessError("--registry %r: give HOST or HOST:PORT of a Docker registry, e.g. "
                           "localhost:5000 or registry.example.org (lower case, no http://, no "
                           "path, port 1-65535)" % (registry,))
    return registry


def repository(registry, image):
    """HOST[:PORT]/dlbench/NAME: where NAME goes in that registry (image: a catalog.Image)."""
    return "%s/%s" % (registry, image.tag.rsplit(":", 1)[0])


def push(image, registry, echo, client=None):
    """Push the built image of catalog.Image `image` to registry; returns REPO@sha256:...."""
    client = client or engine.client()
    check_registry(registry)
    local = engine.local_image(image.tag, client)
    if local is None:
        raise HarnessError("%s is not built here: run `dlbench build %s` first"
                           % (image.name, image.name))
    repo = repository(registry, image)
    local.tag(repo, "latest")
    digest, error = None, None
    try:
        for line in client.images.push(repo, tag="latest", stream=True, decode=True):
            if line.get("error"):
                error = line.get("error")
            aux = line.get("aux") or {}
            if aux.get("Digest"):
                digest = aux["Digest"]
    except Exception as e:
        error = engine.short_error(e)
    if error or not digest:
        try:  # a failed push leaves no HOST/dlbench/NAME tag behind
            client.images.remove(repo + ":latest", noprune=True)
        except Exception:
            pass
        raise HarnessError("cannot push %s to %s: %s: start the registry (see "
                           "docs/cluster.md, \"Trying it on one machine\") or check --registry"
                           % (image.name, registry, engine.one_line(error or "no digest came "
                                                                    "back")))
    ref = "%s@%s" % (repo, digest)
    echo("%s: pushed %s (image %s)" % (image.name, ref, local.id[7:19]))
    return ref


def pushed_ref(image, image_obj, registry):
    """The REPO@sha256:... of this built image in registry (from the engine's RepoDigests after
    `dlbench push`), or one line asking for the push."""
    repo = repository(registry, image)
    for ref in (image_obj.attrs.get("RepoDigests") or []):
        if ref.split("@", 1)[0] == repo:
            return ref
    raise HarnessError("%s (image %s) is not in %s: run `dlbench push %s --registry %s` first"
                       % (image.name, image_obj.id[7:19], registry, image.name, registry))


def is_digest_ref(ref):
    return bool(re.match(r"^[^@]+@sha256:[0-9a-f]{64}$", ref or ""))


def pull_checked(ref, image_id, client=None):
    """Pull REPO@sha256:... and check it is image_id; returns the image object. A reference
    without a digest, a failed pull or another image: HarnessError, one line."""
    client = client or engine.client()
    if not is_digest_ref(ref):
        raise HarnessError("image reference %s is not by digest (REPO@sha256:<64 hex>): a node "
                           "runs only what the host pushed; run `dlbench push` and submit again"
                           % ref)
    try:
        pulled = client.images.pull(ref)
    except Exception as e:
        raise HarnessError("cannot pull %s: %s" % (ref, engine.short_error(e)))
    if isinstance(pulled, list):  # older SDKs: every tag pulled
        pulled = pulled[0]
    check_pulled(ref, pulled.id, image_id)
    return pulled


def check_pulled(ref, got_id, image_id):
    """Refuse (one line) an image pulled for ref whose id is not the run's image_id."""
    if got_id != image_id:
        raise HarnessError("digest mismatch: %s is image %s, but the run was described for "
                           "image %s; refusing to run it: push the image again (`dlbench push "
                           "NAME --registry HOST`) and submit the bench again"
                           % (ref, got_id[:19], (image_id or "?")[:19]))
