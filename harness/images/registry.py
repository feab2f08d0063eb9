"""Container registries: how docker reads an image reference, and whether the registry still
serves a tag or digest (the v2 API's manifest HEAD, with an anonymous bearer token when the
registry asks for one). Nothing is pulled."""
import json
import re
import urllib.error
import urllib.parse

from .reachable import Gone, OK, ROTTED, UNREACHABLE, Unreachable


def split_reference(ref):
    """(registry host, repository path, tag or digest) the way docker reads a reference."""
    name, digest = (ref.split("@", 1) + [None])[:2]
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        host, path = name.split("/", 1)
    else:
        host, path = "docker.io", name
        if "/" not in path:
            path = "library/" + path
    return host, path, digest or tag or "latest"


_MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])


def registry_base(host):
    """The v2 API's base URL for a registry host (plain http for a loopback registry)."""
    if host == "docker.io":
        return "https://registry-1.docker.io"
    plain = host.split(":")[0] in ("localhost", "127.0.0.1", "::1")
    return ("http://" if plain else "https://") + host


def bearer_token(challenge, http):
    """Anonymous token for a `WWW-Authenticate: Bearer realm=...,service=...,scope=...`."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge or ""))
    realm = params.pop("realm", None)
    if not realm:
        return None
    body, _ = http.read(realm + "?" + urllib.parse.urlencode(params))
    data = json.loads(body.decode("utf-8"))
    return data.get("token") or data.get("access_token")


def check_registry(ref, http):
    """(status, detail) for an image reference, asking its registry's v2 API (HEAD manifest)."""
    host, path, tag = split_reference(ref)
    url = "%s/v2/%s/manifests/%s" % (registry_base(host), path, tag)
    headers = {"Accept": _MANIFEST_TYPES}
    try:
        try:
            with http.open(url, method="HEAD", headers=headers):
                return OK, "%s has %s:%s" % (host, path, tag)
        except urllib.error.HTTPError as e:
            if e.code != 401:
                return UNREACHABLE, "%s answers %d" % (host, e.code)
            token = bearer_token(e.headers.get("WWW-Authenticate"), http)
            if not token:
                return UNREACHABLE, "%s wants credentials" % host
            headers["Authorization"] = "Bearer " + token
            with http.open(url, method="HEAD", headers=headers):
                return OK, "%s has %s:%s" % (host, path, tag)
    except Gone:
        return ROTTED, "%s no longer serves %s:%s" % (host, path, tag)
    except Unreachable as e:
        return UNREACHABLE, str(e)
    except urllib.error.HTTPError as e:
        return UNREACHABLE, "%s answers %d" % (host, e.code)
