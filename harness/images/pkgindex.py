"""Package indexes and distribution files: what files a simple-API index (PEP 691 JSON or PEP 503
HTML, over http(s) or file://) has for a project, file-name parsing and version comparison,
whether a wheel installs on a CPython version and glibc on linux, and the check of one
`name==version` pin against the indexes (and the pip find-links wheelhouses on this machine).
Only index metadata is read, never a wheel."""
import json
import os
import re
import urllib.error
import urllib.parse
from html.parser import HTMLParser

from .remote import LOCAL_ONLY, OK, ROTTED, UNREACHABLE, Gone, Unreachable

DEFAULT_INDEX = "https://pypi.org/simple"

# glibc of the distribution a base image name starts from: manylinux wheels newer than this do
# not load there. Unknown bases: no limit (reported by tag only).
GLIBC_OF_BASE = (
    ("ubuntu:14.04", (2, 19)), ("ubuntu:16.04", (2, 23)), ("ubuntu:18.04", (2, 27)),
    ("ubuntu:20.04", (2, 31)), ("ubuntu:22.04", (2, 35)), ("ubuntu:24.04", (2, 39)),
    ("debian:stretch", (2, 24)), ("debian:buster", (2, 28)), ("debian:bullseye", (2, 31)),
    ("debian:bookworm", (2, 36)), ("debian:trixie", (2, 41)),
)
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def normalise(project):
    """A project name as indexes compare it (PEP 503): runs of -_. are one -, lower case."""
    return re.sub(r"[-_.]+", "-", project).lower()


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


def index_urls_from_pip(settings):
    """The primary index (pip's default when unset) and the extra ones, in pip's order."""
    urls = [settings.index_url or DEFAULT_INDEX] if not settings.no_index else []
    urls.extend(settings.extra_index_urls)
    return urls


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


def version_tuple(v):
    """The leading release numbers of a version string: '1.14.1rc1' -> (1, 14, 1),
    '3.5' -> (3, 5), '2.13.0+cpu' -> (2, 13, 0)."""
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
    ta, tb = version_tuple(la), version_tuple(lb)
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
    py = version_tuple(python) + (99,)  # X.Y.anything
    for clause in spec.split(","):
        clause = clause.strip()
        m = re.match(r"^(~=|==|!=|<=|>=|<|>|===)\s*(.+)$", clause)
        if not m:
            continue
        op, ver = m.group(1), m.group(2).strip()
        wildcard = ver.endswith(".*")
        v = version_tuple(ver[:-2] if wildcard else ver)
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
    major, minor = (version_tuple(python) + (0, 0))[:2]
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


def glibc_for(bases):
    """glibc (major, minor) of the first base whose distribution GLIBC_OF_BASE knows, or None."""
    for ref in bases:
        for prefix, glibc in GLIBC_OF_BASE:
            if ref.startswith(prefix) or ref.startswith("docker.io/library/" + prefix):
                return glibc
    return None


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
            near = sorted(others, key=version_tuple)[-3:]
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
    """A file in the wheelhouse folders dirs that installs project==version, or None."""
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            dv = dist_version(name)
            if dv and dv[0] == normalise(project) and same_version(dv[1], version):
                if not name.endswith(".whl") or wheel_fits(name, python, glibc):
                    return os.path.join(d, name)
    return None
