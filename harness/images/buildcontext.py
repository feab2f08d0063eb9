"""The build context of an image: its folder plus a generated _dlbench/ folder derived from the
host's pip settings, and the content hash that decides whether a build is needed.

_dlbench/ holds
  pip.conf          index / extra indexes (http(s) ones), find-links=the wheels below, cert, ...
  ca.crt            the host's CA bundle when pip uses one (TLS-intercepting proxies)
  constraints.txt   the host's pip constraint files, concatenated
  wheels/           files of the host's find-links folders whose project the image's
                    requirements*.txt name (so a 2 GB wheelhouse does not travel whole)
The hash covers every byte that reaches the builder (wheels by name, size and mtime, which is
enough for immutable wheel files), the build arguments and the base image id."""
import hashlib
import io
import os
import re
import tarfile
import tempfile

from ..core import pipconf
from .pkgindex import normalise

GENERATED = "_dlbench"
IN_IMAGE = "/opt/dlbench-build"  # where the Dockerfile COPYs _dlbench/
HASH_VERSION = "1"
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_DIST_EXT = (".whl", ".tar.gz", ".zip")


def requirement_names(folder):
    """Project names in the folder's requirements*.txt files."""
    names = set()
    for entry in sorted(os.listdir(folder)):
        if entry.startswith("requirements") and entry.endswith(".txt"):
            with open(os.path.join(folder, entry)) as f:
                for line in f:
                    line = line.split("#", 1)[0]
                    m = _REQ_NAME.match(line)
                    if m and not line.strip().startswith("-"):
                        names.add(normalise(m.group(1)))
    return names


def dist_project(filename):
    """Project name of a wheel or sdist file name."""
    base = filename
    for ext in _DIST_EXT:
        if base.endswith(ext):
            base = base[:-len(ext)]
            break
    if filename.endswith(".whl"):
        return normalise(base.split("-")[0])
    return normalise(base.rsplit("-", 1)[0])


class Context(object):
    """Everything that goes to the builder, listed before anything is copied."""

    def __init__(self, image, settings, offline=False):
        self.image = image
        self.settings = settings
        self.offline = offline
        self.notes = []
        self.folder_files = self._folder_files()
        self.generated = self._generated_files()   # arcname -> bytes
        self.wheels = self._wheels()                # arcname -> host path

    def _folder_files(self):
        out = []
        root = self.image.folder
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != GENERATED and not d.startswith("."))
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                out.append((os.path.relpath(path, root), path))
        return out

    def _generated_files(self):
        s = self.settings
        lines = ["[global]", "disable-pip-version-check = true"]
        if self.offline or s.no_index:
            lines.append("no-index = true")
        if s.index_url and s.index_url.startswith(("http://", "https://")):
            lines.append("index-url = %s" % s.index_url)
        extras = [u for u in s.extra_index_urls if u.startswith(("http://", "https://"))]
        for u in s.extra_index_urls:
            if u not in extras:
                self.notes.append("extra index %s is not reachable from a build; left out" % u)
        if extras:
            lines.append("extra-index-url = %s" % " ".join(extras))
        lines.append("find-links = %s/wheels" % IN_IMAGE)
        for link in s.find_links:
            if link.startswith(("http://", "https://")):
                lines.append("    %s" % link)
        files = {}
        if s.cert and os.path.isfile(s.cert):
            with open(s.cert, "rb") as f:
                files["ca.crt"] = f.read()
            lines.append("cert = %s/ca.crt" % IN_IMAGE)
        if s.trusted_hosts:
            lines.append("trusted-host = %s" % " ".join(s.trusted_hosts))
        constraints = []
        for path in s.constraints:
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    constraints.append(f.read().rstrip(b"\n") + b"\n")
        if constraints:
            files["constraints.txt"] = b"".join(constraints)
            lines.append("constraint = %s/constraints.txt" % IN_IMAGE)
        files["pip.conf"] = ("\n".join(lines) + "\n").encode()
        return dict((GENERATED + "/" + k, v) for k, v in files.items())

    def _wheels(self):
        wanted = requirement_names(self.image.folder)
        out = {}
        for folder in self.settings.local_wheel_dirs():
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name)
                if (name.endswith(_DIST_EXT) and os.path.isfile(path)
                        and dist_project(name) in wanted):
                    out.setdefault(GENERATED + "/wheels/" + name, path)
        return out

    def digest(self, buildargs, base_id):
        h = hashlib.sha256()

        def add(*parts):
            for p in parts:
                h.update(p if isinstance(p, bytes) else str(p).encode())
                h.update(b"\0")

        add("dlbench-context", HASH_VERSION, self.image.name)
        for arcname, path in self.folder_files:
            with open(path, "rb") as f:
                add("file", arcname, hashlib.sha256(f.read()).hexdigest())
        for arcname in sorted(self.generated):
            add("gen", arcname, hashlib.sha256(self.generated[arcname]).hexdigest())
        for arcname in sorted(self.wheels):
            st = os.stat(self.wheels[arcname])
            add("wheel", arcname, st.st_size, int(st.st_mtime))
        for key in sorted(buildargs):
            add("arg", key, buildargs[key])
        add("base", base_id or "")
        return h.hexdigest()

    def size(self):
        total = sum(os.path.getsize(p) for _, p in self.folder_files)
        total += sum(len(v) for v in self.generated.values())
        total += sum(os.path.getsize(p) for p in self.wheels.values())
        return total

    def write_tar(self, fileobj):
        """The context as an uncompressed tar (what the engine's build endpoint takes)."""
        with tarfile.open(fileobj=fileobj, mode="w") as tar:
            for arcname, path in self.folder_files:
                tar.add(path, arcname=arcname, recursive=False)
            for dirname in (GENERATED, GENERATED + "/wheels"):
                info = tarfile.TarInfo(dirname)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            for arcname in sorted(self.generated):
                data = self.generated[arcname]
                info = tarfile.TarInfo(arcname)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
            for arcname in sorted(self.wheels):
                tar.add(self.wheels[arcname], arcname=arcname, recursive=False)
        fileobj.seek(0)
        return fileobj

    def tarfile(self):
        return self.write_tar(tempfile.TemporaryFile())


def assemble(image, offline=False, environ=None):
    return Context(image, pipconf.read(environ), offline=offline)
