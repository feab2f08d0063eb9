"""What an image's build fetches, read from the files in images/<name>/ (no build, no engine):

  base images    FROM lines, with ${ARG} references resolved from the ARG defaults; when an
                 images/_base recipe Dockerfile makes the base (catalog.base_recipes), the
                 recipe's own needs too
  pip pins       `name==version` lines of requirements*.txt and `pip install` arguments of the
                 Dockerfile's RUN lines
  URL artifacts  ARG pairs NAME_URL / NAME_SHA256
  Python         LABEL org.dlbench.python

and which requirements files the build installs for given build arguments. The Dockerfile is
read once (Needs keeps its instructions and ARG defaults) for doctor and vendor alike."""
import os
import re
from collections import OrderedDict

from ..core import catalog

# name==version, or name===version (exactly that version string: `torch===2.13.0` refuses the
# local-version 2.13.0+cpu wheel of a wheelhouse, which `==` would accept and prefer)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?===?([^\s;,=]+)")


class Needs(object):
    """What one image folder's build fetches, and the reading of its Dockerfile it came from."""

    def __init__(self, name, folder):
        self.name = name
        self.folder = folder
        self.python = None           # "3.5"
        self.bases = []              # image references, defaults resolved
        self.pins = []               # (project, version, where)
        self.artifacts = []          # (arg prefix, url, sha256 or "")
        self.recipes = []            # Needs of images/_base recipes that make a base
        self.args = OrderedDict()    # the Dockerfile's ARG defaults
        self.instructions = []       # the Dockerfile's (INSTRUCTION, arguments) pairs

    def requirement_files(self, build_args=None):
        """The requirements files the build installs: `-r .../requirements*.txt` in RUN lines
        with the build arguments (over the ARG defaults) resolved, else every
        requirements*.txt of the folder."""
        args = OrderedDict(self.args)
        args.update(build_args or {})
        chosen = []
        for word, rest in self.instructions:
            if word != "RUN":
                continue
            for m in re.finditer(r"-r\s+(\S+)", catalog.substitute_args(rest, args)):
                name = os.path.basename(m.group(1).strip("'\""))
                if os.path.isfile(os.path.join(self.folder, name)) and name not in chosen:
                    chosen.append(name)
        return chosen or requirements_txt(self.folder)

    def base_refs(self, build_args=None):
        """The images the build's FROM lines start from, with the build arguments over the ARG
        defaults (earlier stages and scratch left out): `FROM ${BASE}` and a literal
        `FROM debian:bookworm-slim` alike. Without build arguments, .bases: doctor and vendor
        read the same list."""
        if not build_args:
            return list(self.bases)
        args = OrderedDict(self.args)
        args.update(build_args)
        return from_references(self.instructions, args)


def read_dockerfile(path, needs):
    """Add what the Dockerfile at path fetches to needs (and keep its reading there)."""
    with open(path) as f:
        text = f.read()
    labels, args = catalog.parse_dockerfile(text)
    needs.args = args
    needs.instructions = catalog.dockerfile_instructions(text)
    needs.python = needs.python or labels.get(catalog.label_key("python")) or None
    needs.bases.extend(r for r in from_references(needs.instructions, args)
                       if r not in needs.bases)
    for word, rest in needs.instructions:
        if word == "RUN":
            for project, version in pip_install_pins(catalog.substitute_args(rest, args)):
                needs.pins.append((project, version, os.path.basename(path) + " RUN"))
    for key, url in args.items():
        if key.endswith("_URL") and url:
            prefix = key[:-len("_URL")]
            needs.artifacts.append((prefix, url, args.get(prefix + "_SHA256", "") or ""))


def from_references(instructions, args):
    """The image references of the FROM instructions, ${ARG}s resolved from args, in order and
    once each; a FROM naming an earlier stage (AS name) and scratch are no image to fetch."""
    refs, stages = [], set()
    for word, rest in instructions:
        if word != "FROM":
            continue
        words = [w for w in rest.split() if not w.startswith("--")]
        if not words:
            continue
        ref = catalog.substitute_args(words[0], args)
        if ref and ref.lower() not in stages and ref != "scratch" and ref not in refs:
            refs.append(ref)
        if len(words) >= 3 and words[1].lower() == "as":
            stages.add(words[2].lower())
    return refs


def requirements_txt(folder):
    """The folder's requirements*.txt file names, sorted."""
    return sorted(n for n in os.listdir(folder)
                  if n.startswith("requirements") and n.endswith(".txt"))


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
    """(name, version) of every `name==version` line of a requirements file."""
    pins = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            m = _PIN.match(line)
            if m:
                pins.append((m.group(1), m.group(3)))
    return pins


def image_needs(folder, images_root=None, _seen=None):
    """Everything the build of images/<name>/ (or an images/_base recipe) fetches; a base made
    by an images/_base recipe Dockerfile adds that recipe's Needs to .recipes."""
    name = os.path.basename(os.path.normpath(folder))
    needs = Needs(name, folder)
    dockerfile = os.path.join(folder, "Dockerfile")
    if os.path.isfile(dockerfile):
        read_dockerfile(dockerfile, needs)
    for entry in requirements_txt(folder):
        for project, version in requirement_pins(os.path.join(folder, entry)):
            needs.pins.append((project, version, entry))
    seen = _seen if _seen is not None else set([os.path.abspath(folder)])
    made_by = catalog.base_recipes(images_root)
    for ref in needs.bases:
        recipe = made_by.get(ref)
        if not recipe or os.path.basename(recipe) != "Dockerfile":
            continue  # a make-base.sh recipe: its needs are not read
        recipe_folder = os.path.dirname(recipe)
        if os.path.abspath(recipe_folder) not in seen:
            seen.add(os.path.abspath(recipe_folder))
            needs.recipes.append(image_needs(recipe_folder, images_root, seen))
    return needs
