"""`dlbench doctor`: is everything an image's build needs still obtainable?

Old framework versions rot from the outside: registries delete tags (NVIDIA removed the CUDA 8.0
and 9.x tags in 2023), wheels vanish from indexes (torch 0.3.1 was only ever on PyTorch's own
wheel site), hosts go away. For every image this module lists the external things its build
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
"""
import hashlib
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from html.parser import HTMLParser

from . import catalog, paths, pipconf, tls

OK, ROTTED, UNREACHABLE, LOCAL_ONLY, UNVERIFIED = (
    "ok", "rotted", "unreachable", "local only", "unverified")
FAILING = (ROTTED, UNREACHABLE)
DEFAULT_INDEX = "https://pypi.org/simple"
USER_AGENT = "dlbench-doctor/1"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;,]+)")

# glibc of the distribution a base image name starts from: manylinux wheels newer than this do
# not load there. Unknown bases: no limit (reported by tag only).
GLIBC_OF_BASE = (
    ("ubuntu:14.04", (2, 19)), ("ubuntu:16.04", (2, 23)), ("ubuntu:18.04", (2, 27)),
    ("ubuntu:20.04", (2, 31)), ("ubuntu:22.04", (2, 35)), ("ubuntu:24.04", (2, 39)),
    ("debian:stretch", (2, 24)), ("debian:buster", (2, 28)), ("debian:bullseye", (2, 31)),
    ("debian:bookworm", (2, 36)), ("debian:trixie", (2, 41)),
)
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


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


class Unreachable(Exception):
    """The host did not answer usefully (DNS, connection, timeout, TLS, 5xx)."""


class Gone(Exception):
    """The server answered: not there (404/410)."""


# --------------------------------------------------------------------------------------------
# What an image's build needs


class Needs(object):
    def __init__(self, name, folder):
        self.name = name
        self.folder = folder
        self.python = None           # "3.5"
        self.bases = []              # image references, defaults resolved
        self.pins = []               # (project, version, where)
        self.artifacts = []          # (arg prefix, url, sha256 or "")
        self.recipes = []            # Needs of images/_base recipes that make a base


def _dockerfile_needs(path, needs):
    with open(path) as f:
        text = f.read()
    labels, args = catalog.parse_dockerfile(text)
    needs.python = needs.python or labels.get(catalog.label_key("python")) or None
    stages = set()
    for word, rest in catalog.dockerfile_instructions(text):
        if word == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                continue
            ref = catalog.substitute_args(words[0], args)
            if len(words) >= 3 and words[1].lower() == "as":
                alias = words[2].lower()
            else:
                alias = None
            if ref and ref.lower() not in stages and ref != "scratch" and ref not in needs.bases:
                needs.bases.append(ref)
            if alias:
                stages.add(alias)
        elif word == "RUN":
            for project, version in pip_install_pins(catalog.substitute_args(rest, args)):
                needs.pins.append((project, version, os.path.basename(path) + " RUN"))
    for key, url in args.items():
        if key.endswith("_URL") and url:
            prefix = key[:-len("_URL")]
            needs.artifacts.append((prefix, url, args.get(prefix + "_SHA256", "") or ""))
    return text


def pip_install_pins(command):
    """name==version arguments of every `pip install` in a shell command line."""
    pins = []
    for part in re.split(r"&&|\|\||;", command):
        words = [w.strip("'\"") for w in part.split()]
        for i, w in enumerate(words):
            if w == "install" and i > 0 and re.search(r"(^|/)pip[0-9.]*$", words[i - 1]):
                for arg in words[i + 1:]:
                    m = _PIN.match(arg)
                    if m:
                        pins.append((m.group(1), m.group(3)))
            elif w == "install" and i > 1 and words[i - 1] == "pip" and words[i - 2] == "-m":
                for arg in words[i + 1:]:
                    m = _PIN.match(arg)
                    if m:
                        pins.append((m.group(1), m.group(3)))
    return pins


def requirement_pins(path):
    pins = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            m = _PIN.match(line)
            if m:
                pins.append((m.group(1), m.group(3)))
    return pins


def recipes(images_root=None):
    """tag -> recipe folder, for every base image an images/_base recipe makes."""
    return dict((ref, os.path.dirname(recipe))
                for ref, recipe in catalog.base_recipes(images_root).items())


def image_needs(folder, images_root=None, _seen=None):
    """Everything the build of images/<name>/ (or an images/_base recipe) fetches."""
    name = os.path.basename(os.path.normpath(folder))
    needs = Needs(name, folder)
    dockerfile = os.path.join(folder, "Dockerfile")
    if os.path.isfile(dockerfile):
        _dockerfile_needs(dockerfile, needs)
    for entry in sorted(os.listdir(folder)):
        if entry.startswith("requirements") and entry.endswith(".txt"):
            for project, version in requirement_pins(os.path.join(folder, entry)):
                needs.pins.append((project, version, entry))
    seen = _seen if _seen is not None else set([os.path.abspath(folder)])
    made_by = recipes(images_root)
    for ref in needs.bases:
        recipe = made_by.get(ref)
        if recipe and os.path.abspath(recipe) not in seen and \
                os.path.isfile(os.path.join(recipe, "Dockerfile")):
            seen.add(os.path.abspath(recipe))
            needs.recipes.append(image_needs(recipe, images_root, seen))
    return needs


# --------------------------------------------------------------------------------------------
# HTTP


class Http(object):
    def __init__(self, timeout=20, context=None):
        self.timeout = timeout
        self.context = context if context is not None else tls.ssl_context()

    def open(self, url, method="GET", headers=None):
        req = urllib.request.Request(url, method=method, headers=dict(
            {"User-Agent": USER_AGENT}, **(headers or {})))
        try:
            if url.startswith("https:"):
                return urllib.request.urlopen(req, timeout=self.timeout, context=self.context)
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code in (404, 410):
                raise Gone("%s answers %d" % (_host(url), e.code))
            if e.code in (401, 403):
                raise
            raise Unreachable("%s answers %d %s" % (_host(url), e.code, e.reason))
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise Unreachable("%s: %s" % (_host(url), reason))

    def read(self, url, headers=None, limit=64 << 20):
        with self.open(url, headers=headers) as resp:
            return resp.read(limit), resp.headers.get("Content-Type", "")


def _host(url):
    parsed = urllib.parse.urlsplit(url)
    return parsed.netloc or parsed.path


# --------------------------------------------------------------------------------------------
# Package indexes: what files a project has


class _Anchors(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            a = dict(attrs)
            if a.get("href"):
                self.links.append(a)


def parse_simple(body, content_type, base_url):
    """[{filename, url, requires_python, yanked}] from a PEP 691 JSON or PEP 503 HTML page."""
    files = []
    if "json" in content_type:
        data = json.loads(body.decode("utf-8"))
        for f in data.get("files", []):
            files.append({"filename": f["filename"],
                          "url": urllib.parse.urljoin(base_url, f.get("url", "")),
                          "requires_python": f.get("requires-python") or "",
                          "yanked": bool(f.get("yanked"))})
        return files
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
    for a in parser.links:
        url = urllib.parse.urljoin(base_url, a["href"])
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        files.append({"filename": filename, "url": url,
                      "requires_python": a.get("data-requires-python") or "",
                      "yanked": "data-yanked" in a})
    return files


def normalise(project):
    return re.sub(r"[-_.]+", "-", project).lower()


class Index(object):
    """One simple-API index (http(s):// or file://)."""

    def __init__(self, url, http):
        self.url = url.rstrip("/")
        self.http = http
        self.local = url.startswith("file:")

    def files(self, project):
        page = "%s/%s/" % (self.url, normalise(project))
        if self.local:
            folder = urllib.parse.urlsplit(page).path
            index_html = os.path.join(folder, "index.html")
            if os.path.isfile(index_html):
                with open(index_html, "rb") as f:
                    return parse_simple(f.read(), "text/html", "file://" + folder)
            if os.path.isdir(folder):
                return [{"filename": n, "url": "file://" + os.path.join(folder, n),
                         "requires_python": "", "yanked": False}
                        for n in sorted(os.listdir(folder))]
            raise Gone("%s has no %s" % (self.url, project))
        body, ctype = self.http.read(page, headers={
            "Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
        return parse_simple(body, ctype, page)


def dist_version(filename):
    """(normalised project, version) of a wheel or sdist file name, or None."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) >= 5:
            return normalise(parts[0]), parts[1]
        return None
    for ext in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if filename.endswith(ext):
            base = filename[:-len(ext)]
            m = re.match(r"^(.*?)-(\d[^-]*)$", base)
            if m:
                return normalise(m.group(1)), m.group(2)
    return None


def _vtuple(v):
    out = []
    for p in re.split(r"[.+!-]", v):
        m = re.match(r"(\d+)", p)
        if not m:
            break
        out.append(int(m.group(1)))
    return tuple(out)


def same_version(a, b):
    """1.0 == 1.0.0, local parts (+cpu) must match when either has one."""
    la, _, lpa = a.lower().partition("+")
    lb, _, lpb = b.lower().partition("+")
    if lpa != lpb:
        return False
    ta, tb = _vtuple(la), _vtuple(lb)
    n = max(len(ta), len(tb))
    if ta + (0,) * (n - len(ta)) != tb + (0,) * (n - len(tb)):
        return False
    # pre/post/dev suffixes: compare what follows the release numbers literally
    strip = re.compile(r"^[\d.]+")
    return strip.sub("", la) == strip.sub("", lb)


def python_satisfies(python, spec):
    """Does Python 'X.Y' satisfy a Requires-Python specifier like '>=3.6, !=3.0.*'?"""
    if not spec or not python:
        return True
    py = _vtuple(python) + (99,)  # X.Y.anything
    for clause in spec.split(","):
        clause = clause.strip()
        m = re.match(r"^(~=|==|!=|<=|>=|<|>|===)\s*(.+)$", clause)
        if not m:
            continue
        op, ver = m.group(1), m.group(2).strip()
        wildcard = ver.endswith(".*")
        v = _vtuple(ver[:-2] if wildcard else ver)
        if wildcard or op in ("==", "!=", "==="):
            head = py[:len(v)]
            equal = head == v if wildcard else _pad(py[:2], v) == _pad(v, py[:2])
            if op in ("==", "===") and not equal:
                return False
            if op == "!=" and equal:
                return False
            continue
        cur = py[:max(len(v), 2)]
        if op == ">=" and not cur >= _pad(v, cur):
            return False
        if op == ">" and not cur > _pad(v, cur):
            return False
        if op == "<=" and not py[:len(v)] <= v:
            return False
        if op == "<" and not py[:len(v)] < v:
            return False
        if op == "~=":
            if not cur >= _pad(v, cur) or py[:len(v) - 1] != v[:-1]:
                return False
    return True


def _pad(v, like):
    return tuple(v) + (0,) * max(0, len(like) - len(v))


def wheel_fits(filename, python, glibc=None, machine="x86_64"):
    """Can CPython `python` ('3.5') on linux `machine` install this wheel file?"""
    parts = filename[:-4].split("-")
    if len(parts) < 5:
        return False
    pyt, abit, platt = parts[-3], parts[-2], parts[-1]
    major, minor = (_vtuple(python) + (0, 0))[:2]
    cp = "cp%d%d" % (major, minor)
    ok_py = False
    for tag in pyt.split("."):
        if tag == cp:
            ok_py = True
        elif tag.startswith("py"):
            digits = tag[2:]
            if digits == str(major) or (len(digits) >= 2 and digits[0] == str(major)
                                         and int(digits[1:]) <= minor):
                ok_py = True
        elif tag.startswith("cp") and abit.split(".")[0] == "abi3":
            digits = tag[2:]
            if digits[:1] == str(major) and digits[1:] and int(digits[1:]) <= minor:
                ok_py = True
    if not ok_py:
        return False
    abis = set(abit.split("."))
    allowed = {"none", "abi3", cp, cp + "m"}
    if not abis & allowed:
        return False
    for plat in platt.split("."):
        if plat == "any" or plat == "linux_" + machine:
            return True
        if not plat.endswith("_" + machine):
            continue
        head = plat[:-len(machine) - 1]
        need = _LEGACY_MANYLINUX.get(head)
        if need is None:
            m = re.match(r"^manylinux_(\d+)_(\d+)$", head)
            if not m:
                continue
            need = (int(m.group(1)), int(m.group(2)))
        if glibc is None or need <= tuple(glibc):
            return True
    return False


def usable_files(files, project, version, python, glibc=None):
    """The subset of an index's files that install project==version on this Python."""
    wheels, sdists, other_versions = [], [], set()
    for f in files:
        dv = dist_version(f["filename"])
        if not dv or dv[0] != normalise(project):
            continue
        if not same_version(dv[1], version):
            other_versions.add(dv[1])
            continue
        if f["filename"].endswith(".whl"):
            wheels.append(f)
        else:
            sdists.append(f)
    return wheels, sdists, other_versions


def check_pin(project, version, python, indexes, local_dirs=(), glibc=None):
    """(status, detail) for project==version on Python `python`, linux x86_64."""
    remote_errors, notes = [], []
    for index in indexes:
        try:
            files = index.files(project)
        except Gone:
            notes.append("%s: no project %s" % (index.url, project))
            continue
        except Unreachable as e:
            remote_errors.append(str(e))
            continue
        except urllib.error.HTTPError as e:
            remote_errors.append("%s answers %d" % (index.url, e.code))
            continue
        wheels, sdists, others = usable_files(files, project, version, python, glibc)
        if not wheels and not sdists:
            near = sorted(others, key=_vtuple)[-3:]
            notes.append("%s has no %s %s%s" % (index.url, project, version,
                                                 " (has %s)" % ", ".join(near) if near else ""))
            continue
        live = [f for f in wheels + sdists if not f["yanked"]]
        fit = [f for f in wheels if not f["yanked"]
               and wheel_fits(f["filename"], python, glibc)
               and python_satisfies(python, f["requires_python"])]
        src = [f for f in sdists if not f["yanked"]
               and python_satisfies(python, f["requires_python"])]
        if fit:
            where = "" if index is indexes[0] else " from %s" % index.url
            return (LOCAL_ONLY if index.local else OK), "wheel %s%s" % (fit[0]["filename"], where)
        if src:
            where = "" if index is indexes[0] else " from %s" % index.url
            return ((LOCAL_ONLY if index.local else OK),
                    "sdist %s (builds from source in the image)%s" % (src[0]["filename"], where))
        yanked = [f for f in wheels if f["yanked"] and wheel_fits(f["filename"], python, glibc)
                  and python_satisfies(python, f["requires_python"])]
        if yanked:
            # PEP 592: an exact == pin still installs a yanked file (pip warns). Obtainable
            # today, but the maintainers asked people to move off it: keep a copy.
            return ((LOCAL_ONLY if index.local else OK),
                    "wheel %s, YANKED (pip installs it for an exact == pin, with a warning); "
                    "`dlbench vendor` keeps a copy" % yanked[0]["filename"])
        if not live:
            notes.append("%s %s is yanked on %s" % (project, version, index.url))
        else:
            notes.append("%s %s on %s has no file for CPython %s linux x86_64 (%s)" % (
                project, version, index.url, python,
                ", ".join(sorted(f["filename"] for f in wheels)[:3]) or "no wheels"))
    local = _local_wheel(project, version, python, local_dirs, glibc)
    if local:
        why = "; ".join(remote_errors + notes) or "not on the index"
        return LOCAL_ONLY, "%s in %s (%s); run `dlbench vendor` to keep it" % (
            os.path.basename(local), os.path.dirname(local), why)
    if notes:
        return ROTTED, "; ".join(notes) + ": pin an obtainable version, add a find-links " \
            "wheelhouse, or build from a `dlbench vendor` archive"
    return UNREACHABLE, "; ".join(remote_errors) or "no index configured"


def _local_wheel(project, version, python, dirs, glibc):
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            dv = dist_version(name)
            if dv and dv[0] == normalise(project) and same_version(dv[1], version):
                if not name.endswith(".whl") or wheel_fits(name, python, glibc):
                    return os.path.join(d, name)
    return None


# --------------------------------------------------------------------------------------------
# URL artifacts


def check_artifact(url, sha256, http):
    """(status, detail): reachable, and its bytes hash to sha256 when one is pinned."""
    if not sha256:
        try:
            with http.open(url, method="HEAD"):
                pass
        except Gone as e:
            return ROTTED, "%s; find a mirror of the file and set this ARG" % e
        except Unreachable as e:
            return UNREACHABLE, str(e)
        except urllib.error.HTTPError as e:
            return UNREACHABLE, "%s answers %d" % (_host(url), e.code)
        return UNVERIFIED, "reachable, but no sha256 pinned: set the matching _SHA256 ARG"
    digest, size = hashlib.sha256(), 0
    try:
        with http.open(url) as resp:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
    except Gone as e:
        return ROTTED, "%s; restore it from a `dlbench vendor` archive or a mirror " \
            "(the sha256 pin says which bytes)" % e
    except Unreachable as e:
        return UNREACHABLE, str(e)
    except urllib.error.HTTPError as e:
        return UNREACHABLE, "%s answers %d" % (_host(url), e.code)
    if digest.hexdigest() != sha256.lower():
        return ROTTED, "sha256 %s differs from the pinned %s (%d bytes): the file changed; " \
            "do not build from it" % (digest.hexdigest(), sha256, size)
    return OK, "%d bytes, sha256 matches" % size


# --------------------------------------------------------------------------------------------
# Base images


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
    if host == "docker.io":
        return "https://registry-1.docker.io"
    plain = host.split(":")[0] in ("localhost", "127.0.0.1", "::1")
    return ("http://" if plain else "https://") + host


def _bearer(challenge, http):
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
            token = _bearer(e.headers.get("WWW-Authenticate"), http)
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


LOCAL_NAMESPACE = "dlbench/"  # tags made on this machine (recipes, builds), never pushed
TO_BUILD = "to build"


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


def glibc_for(bases):
    for ref in bases:
        for prefix, glibc in GLIBC_OF_BASE:
            if ref.startswith(prefix) or ref.startswith("docker.io/library/" + prefix):
                return glibc
    return None


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


def index_urls_from_pip(settings):
    """The primary index (pip's default when unset) and the extra ones, in pip's order."""
    urls = [settings.index_url or DEFAULT_INDEX] if not settings.no_index else []
    urls.extend(settings.extra_index_urls)
    return urls


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

import click  # noqa: E402  (kept beside the command it serves)


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
