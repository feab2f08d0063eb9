"""Package indexes and distribution files: what files a simple-API index (PEP 691 JSON or PEP 503
HTML, over http(s) or file://) has for a project, file-name parsing and version comparison,
whether a wheel installs on a CPython version and glibc on linux, and the check of one
`name==version` pin against the indexes (and the pip find-links wheelhouses on this machine).
Only index metadata is read, never a wheel. The pages come through harness.images.reachable (the
harness's TLS trust); pypi-simple parses them and PyPA's `packaging` does names, versions,
specifiers and wheel tags."""
import functools
import json
import os
import urllib.error
import urllib.parse

# packaging is imported where it is used: its tags module (with logging and sysconfig) would
# cost every `dlbench` command about 14 ms of start-up (the command line imports doctor and
# the build context imports this module), and only doctor, vendor and a build's context use it

from .reachable import Gone, LOCAL_ONLY, OK, ROTTED, UNREACHABLE, Unreachable, host_of

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
_ANY_GLIBC = (2, 99)  # glibc unknown: every manylinux_2_N tag counts
_SDIST_ALIASES = ((".tar.bz2", ".tar.gz"), (".tgz", ".tar.gz"))  # legacy sdists pip still reads


def normalise(project):
    """A project name as indexes compare it (PEP 503): runs of -_. are one -, lower case."""
    from packaging.utils import canonicalize_name
    return canonicalize_name(project)


def parse_simple(body, content_type, base_url, project=""):
    """[{filename, url, requires_python, yanked}] from a PEP 691 JSON or PEP 503 HTML page.
    Raises ValueError (or pypi-simple's UnsupportedRepoVersionError) for a page it cannot read."""
    from pypi_simple import ProjectPage  # imported here: the command line starts without it
    if "json" in content_type:
        page = ProjectPage.from_json_data(json.loads(body.decode("utf-8")), base_url)
        named = [(p.filename, p) for p in page.packages]
    else:
        page = ProjectPage.from_html(project, body.decode("utf-8", "replace"), base_url)
        # a file is named by its URL's last path segment, as pip names it (PEP 503 asks the
        # link text to match, which not every index does)
        named = [(urllib.parse.unquote(urllib.parse.urlsplit(p.url).path.rsplit("/", 1)[-1]), p)
                 for p in page.packages]
    return [{"filename": filename, "url": p.url, "requires_python": p.requires_python or "",
             "yanked": bool(p.is_yanked)} for filename, p in named]


class Index(object):
    """One simple-API index (http(s):// or file://)."""

    def __init__(self, url, http):
        self.url = url.rstrip("/")
        self.http = http
        self.local = url.startswith("file:")

    def files(self, project):
        from pypi_simple import ACCEPT_JSON_PREFERRED, UnsupportedRepoVersionError
        page = "%s/%s/" % (self.url, normalise(project))
        if self.local:
            folder = urllib.parse.urlsplit(page).path
            index_html = os.path.join(folder, "index.html")
            if os.path.isfile(index_html):
                with open(index_html, "rb") as f:
                    body, ctype, page = f.read(), "text/html", "file://" + folder
            elif os.path.isdir(folder):
                return [{"filename": n, "url": "file://" + os.path.join(folder, n),
                         "requires_python": "", "yanked": False}
                        for n in sorted(os.listdir(folder))]
            else:
                raise Gone("%s has no %s" % (self.url, project))
        else:
            body, ctype = self.http.read(page, headers={"Accept": ACCEPT_JSON_PREFERRED})
        try:
            return parse_simple(body, ctype, page, project)
        except (ValueError, UnsupportedRepoVersionError) as e:
            raise Unreachable("%s: unreadable project page %s (%s)" % (
                host_of(page), page, (str(e).splitlines() or [type(e).__name__])[0]))


def index_urls_from_pip(settings):
    """The primary index (pip's default when unset) and the extra ones, in pip's order."""
    urls = [settings.index_url or DEFAULT_INDEX] if not settings.no_index else []
    urls.extend(settings.extra_index_urls)
    return urls


def dist_version(filename):
    """(normalised project, version) of a wheel or sdist file name, or None."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename
    try:
        if filename.endswith(".whl"):
            name, version = parse_wheel_filename(filename)[:2]
        else:
            for legacy, modern in _SDIST_ALIASES:
                if filename.endswith(legacy):
                    filename = filename[:-len(legacy)] + modern
            name, version = parse_sdist_filename(filename)
    except ValueError:  # InvalidWheelFilename, InvalidSdistFilename, InvalidVersion
        return None
    return str(name), str(version)


def version_tuple(v):
    """The release numbers of a version string: '1.14.1rc1' -> (1, 14, 1), '3.5' -> (3, 5),
    '2.13.0+cpu' -> (2, 13, 0); () for a string that is no PEP 440 version."""
    from packaging.version import InvalidVersion, Version
    try:
        return Version(v).release
    except InvalidVersion:
        return ()


def same_version(a, b):
    """PEP 440 equality (1.0 == 1.0.0, 1.0 != 1.0rc1); a local part (+cpu) must match when
    either has one."""
    from packaging.version import InvalidVersion, Version
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a.strip().lower() == b.strip().lower()


def python_satisfies(python, spec):
    """Does Python 'X.Y' (some X.Y.z release) satisfy a Requires-Python specifier like
    '>=3.6, !=3.0.*'? An unparsable specifier is ignored, as pip ignores it."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    if not spec or not python:
        return True
    try:
        specs = SpecifierSet(spec)
    except InvalidSpecifier:
        return True
    release = version_tuple(python)
    if len(release) >= 3:
        return specs.contains(python, prereleases=True)
    major, minor = (release + (0, 0))[:2]
    return any(specs.contains("%d.%d.%d" % (major, minor, micro), prereleases=True)
               for micro in range(100))


@functools.lru_cache(maxsize=64)
def _supported_tags(python, glibc, machine):
    """The wheel tags CPython `python` installs on linux `machine` with glibc (major, minor)."""
    from packaging.tags import compatible_tags, cpython_tags
    major, minor = (version_tuple(python) + (0, 0))[:2]
    cp = "cp%d%d" % (major, minor)
    abi = cp + "m" if (major, minor) < (3, 8) else cp  # pymalloc builds before 3.8
    glibc = glibc or _ANY_GLIBC
    platforms = ["manylinux_%d_%d_%s" % (glibc[0], m, machine) for m in range(glibc[1], -1, -1)]
    platforms += ["%s_%s" % (name, machine) for name, need in sorted(_LEGACY_MANYLINUX.items())
                  if need <= glibc]
    platforms.append("linux_" + machine)
    return frozenset(cpython_tags((major, minor), abis=[abi], platforms=platforms)) | \
        frozenset(compatible_tags((major, minor), interpreter=cp, platforms=platforms))


def wheel_fits(filename, python, glibc=None, machine="x86_64"):
    """Can CPython `python` ('3.5') on linux `machine` install this wheel file?"""
    from packaging.utils import parse_wheel_filename
    try:
        wheel_tags = parse_wheel_filename(filename)[3]
    except ValueError:
        return False
    return not wheel_tags.isdisjoint(
        _supported_tags(python, tuple(glibc) if glibc else None, machine))


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
    from packaging.version import Version
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
            near = sorted(others, key=Version)[-3:]  # dist_version gives valid versions only
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
