"""The catalog of benchmark images, discovered from images/<name>/Dockerfile LABELs.

Nothing is registered by hand: a folder under images/ with a Dockerfile is an image, its folder
name is its CLI name, and its LABELs say which adapter, tasks and devices it has. Folders whose
name starts with '_' or '.' (images/_base/: recipes for base images) are not benchmark images.
The Dockerfile is read as text, so listing needs no build and no engine."""
import json
import os
import re
from collections import OrderedDict

from .errors import HarnessError
from . import paths, taskfiles

# The LABEL keys an image Dockerfile declares (org.dlbench.<short name>) are documented in the
# table in docs/adding-a-framework.md; Image below reads them.
LABEL_PREFIX = "org.dlbench."
REQUIRED = ("adapter", "tasks", "devices")
# Labels the harness adds at build time (never written in a Dockerfile).
CONTEXT_HASH_LABEL = LABEL_PREFIX + "context-hash"
IMAGE_NAME_LABEL = LABEL_PREFIX + "image"
# Labels on containers the harness starts, so it can find and remove them.
RUN_LABEL = LABEL_PREFIX + "run"
TASK_LABEL = LABEL_PREFIX + "task"  # with RUN_LABEL and IMAGE_NAME_LABEL
REPOSITORY = "dlbench"  # built images are tagged dlbench/<name>:latest

# A base recipe names the image references it makes on a line of its own: `# provides: REF...`
_PROVIDES = re.compile(r"^#[ \t]*provides:[ \t]*(.*)$", re.M)
# The files of an images/_base/<recipe>/ folder that are recipes, in the order one is chosen
RECIPE_FILES = ("make-base.sh", "Dockerfile")
_ARG_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def label_key(short):
    return LABEL_PREFIX + short


# An image name is a folder under images/ and the repository part of its Docker tag
# (dlbench/NAME): lowercase letters and digits, with single . or _, a double _, or dashes
# between them (Docker's rule for a path component), 128 characters at most.
_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


def name_problem(name):
    """Why `name` cannot be an image name, or None when it can be one."""
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 128:
        return ("%s is not an image name: lowercase letters and digits, with . _ or - between "
                "them (a folder under images/)" % (repr(name) if isinstance(name, str)
                                                   else json.dumps(name)))
    return None


def check_name(name):
    """Raise HarnessError when `name` cannot be an image name: the one check of names, whether
    they come from the command line (lookup) or from a file (a vendor archive's manifest)."""
    problem = name_problem(name)
    if problem:
        raise HarnessError(problem)
    return name


def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) pairs: comments dropped, backslash continuations joined."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line:
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def substitute_args(value, args):
    """value with every $NAME / ${NAME} / ${NAME:-default} replaced from args; a name not in
    args takes its default, else becomes empty."""
    def repl(m):
        name = m.group(1) or m.group(3)
        if name in args:
            return args[name]
        return m.group(2) or ""
    return _ARG_REF.sub(repl, value)


def _pairs(text):
    """key=value pairs of a LABEL or ARG line; values may be "quoted" with \\ escapes."""
    pairs, i, n = [], 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        j = i
        while j < n and text[j] not in "= \t":
            j += 1
        key = text[i:j].strip('"')
        if j >= n or text[j] != "=":
            pairs.append((key, None))  # ARG without a default
            i = j
            continue
        j += 1
        value = []
        if j < n and text[j] in "\"'":
            quote = text[j]
            j += 1
            while j < n and text[j] != quote:
                if text[j] == "\\" and j + 1 < n and quote == '"':
                    j += 1
                value.append(text[j])
                j += 1
            j += 1
        else:
            while j < n and not text[j].isspace():
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                value.append(text[j])
                j += 1
        pairs.append((key, "".join(value)))
        i = j
    return pairs


def parse_dockerfile(text):
    """(labels, args): every LABEL of the file (later ones win) with ${ARG} references
    resolved from the ARG defaults, and the ARG defaults themselves."""
    args, labels = OrderedDict(), OrderedDict()
    for word, rest in dockerfile_instructions(text):
        if word == "ARG":
            for key, value in _pairs(rest):
                if key not in args or value is not None:
                    args[key] = substitute_args(value, args) if value is not None else ""
        elif word == "LABEL":
            for key, value in _pairs(rest):
                labels[key] = substitute_args(value or "", args)
    return labels, args


def _split(value):
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


class Image(object):
    """One benchmark image: images/<name>/Dockerfile and what its LABELs declare."""

    def __init__(self, name, folder, labels, args):
        self.name = name
        self.folder = folder
        self.dockerfile = os.path.join(folder, "Dockerfile")
        self.labels = labels
        self.args = args

    def label(self, short, default=None):
        return self.labels.get(label_key(short), default)

    @property
    def adapters(self):
        """The adapters the image runs: LABEL org.dlbench.adapter, comma-separated. Most images
        have one; an image may run more than one program of its framework (tensorflow-2.21:
        tensorflow, and tensorflow1 for TensorFlow 1's graph program), each variant run by the
        adapter that declares it (adapter_for)."""
        return _split(self.label("adapter"))

    @property
    def adapter(self):
        """The image's first adapter: the one of its first (reference) variant."""
        return (self.adapters or (None,))[0]

    def _tasks_root(self):
        return os.path.join(os.path.dirname(os.path.dirname(self.folder)), "tasks")

    def _frameworks(self):
        """(adapter, its framework module or None) for each of the image's adapters."""
        return [(a, taskfiles.find(a, self._tasks_root())) for a in self.adapters]

    def adapter_for(self, variant):
        """The adapter that runs this variant: the image's adapter whose framework module
        declares it (names are distinct across an image's adapters: problems() says so when they
        are not), else the first."""
        for adapter, fw in self._frameworks():
            if fw is not None and variant in fw.variant_names():
                return adapter
        return self.adapter

    def offered_variants(self, task=None, device=None):
        """Every variant the image's adapters declare (that runs this task and device, when
        given), in label order of the adapters."""
        return [v for _, fw in self._frameworks() if fw is not None
                for v in fw.variant_names(task, device)]

    @property
    def tasks(self):
        return _split(self.label("tasks"))

    @property
    def python(self):
        """The command that runs the image's Python: python2 where LABEL org.dlbench.python says
        2.x (cntk-2.7: CNTK's wheels are for Python 2.7 there), else python3."""
        return "python2" if (self.label("python") or "").startswith("2.") else "python3"

    @property
    def devices(self):
        return _split(self.label("devices"))

    @property
    def variants(self):
        """The LABEL's variants (a subset of the framework module's, e.g. an old framework
        version that lacks a feature), else every variant the framework module declares."""
        declared = _split(self.label("variants"))
        if declared:
            return declared
        return tuple(self.offered_variants()) or ("reference",)

    @property
    def cuda(self):
        value = self.label("cuda")
        return None if value in (None, "", "none") else value

    @property
    def max_compute_capability(self):
        return self.label("max-compute-capability") or None

    @property
    def description(self):
        return self.label("description", "")

    @property
    def era(self):
        return self.label("era") or "current"

    @property
    def base(self):
        """The default base image (ARG BASE=...), when the Dockerfile has one."""
        return self.args.get("BASE") or None

    @property
    def tag(self):
        return "%s/%s:latest" % (REPOSITORY, self.name)

    def problems(self, tasks_root=None):
        """What is wrong with the declaration (missing labels, adapter files absent)."""
        found = [p for p in (name_problem(self.name),) if p]
        found += [("missing LABEL %s" % label_key(k)) for k in REQUIRED if not self.label(k)]
        bad_devices = [d for d in self.devices if d not in ("cpu", "gpu")]
        if bad_devices:
            found.append("unknown device(s) %s" % ", ".join(bad_devices))
        if tasks_root and self.adapter:
            offered = {}  # variant -> the adapters declaring it
            # the first adapter (the reference's) has a file for every task of the label; the
            # others are other programs in the image and may lack some (tensorflow-2.21's
            # tensorflow1, TF1's graph program, has no densenet: its variants are not offered
            # for it), but not every one
            for i, adapter in enumerate(self.adapters):
                lacks = [t for t in self.tasks
                         if not os.path.isfile(os.path.join(tasks_root, t, adapter + ".py"))]
                if i == 0 or len(lacks) == len(self.tasks):
                    found.extend("no tasks/%s/%s.py" % (t, adapter) for t in lacks)
            for adapter in self.adapters:
                try:
                    for v in taskfiles.load(adapter, tasks_root).variant_names():
                        offered.setdefault(v, []).append(adapter)
                except HarnessError as e:
                    found.append(e.message)
            unknown = [v for v in self.variants if v not in offered]
            if unknown:
                found.append("variant(s) %s not declared in %s (they have %s)" % (
                    ", ".join(unknown), " or ".join("tasks/frameworks/%s.py" % a
                                                    for a in self.adapters),
                    ", ".join(offered) or "none"))
            for v in self.variants:
                if len(offered.get(v, ())) > 1:
                    found.append("variant %s is declared by %s: an image's adapters need "
                                 "distinct variant names" % (v, " and ".join(offered[v])))
        return found

    def __repr__(self):
        return "Image(%r)" % self.name


def load_image(folder):
    with open(os.path.join(folder, "Dockerfile")) as f:
        labels, args = parse_dockerfile(f.read())
    return Image(os.path.basename(os.path.normpath(folder)), folder, labels, args)


def discover(images_root=None):
    """Every benchmark image under images_root, sorted by name."""
    images_root = images_root or paths.images_dir()
    found = []
    if not os.path.isdir(images_root):
        return found
    for name in sorted(os.listdir(images_root)):
        folder = os.path.join(images_root, name)
        if name.startswith(("_", ".")) or not os.path.isfile(os.path.join(folder, "Dockerfile")):
            continue
        found.append(load_image(folder))
    return found


def lookup(names, images_root=None):
    """The images named, in the order given; an unknown name lists the known ones."""
    for n in names:
        check_name(n)
    known = OrderedDict((img.name, img) for img in discover(images_root))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise HarnessError("unknown image %s; known images: %s (see `dlbench list`)"
                           % (", ".join(repr(n) for n in unknown),
                              ", ".join(known) or "none under images/"))
    return [known[n] for n in names]


def provided_references(text):
    """The image references a recipe file's `# provides: REF [REF...]` lines name."""
    return [ref for m in _PROVIDES.finditer(text) for ref in m.group(1).split()]


def base_recipes(images_root=None):
    """{image reference: recipe file} for the base images that images/_base/*/ recipes make.

    A recipe is a folder's make-base.sh (run as `sh make-base.sh REF`) or its Dockerfile (built
    with the tag REF), and says what it makes in `# provides: REF` lines. Folders are read in
    name order ('.' folders skipped), make-base.sh before the Dockerfile; the first recipe that
    provides a reference makes it. The one reading of these lines, for builds and doctor."""
    root = os.path.join(images_root or paths.images_dir(), "_base")
    found = OrderedDict()
    if not os.path.isdir(root):
        return found
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        for kind in RECIPE_FILES:
            recipe = os.path.join(folder, kind)
            if os.path.isfile(recipe):
                with open(recipe, errors="replace") as f:
                    for ref in provided_references(f.read()):
                        found.setdefault(ref, recipe)
    return found

