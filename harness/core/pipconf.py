"""The host's pip settings (index, extra indexes, find-links wheelhouses, CA bundle, constraints),
read the way pip reads them, so an image build inside a container uses the same sources: behind a
TLS-intercepting proxy (the CA bundle) and offline (the wheelhouse).

Files, lowest priority first: $XDG_CONFIG_DIRS/pip/pip.conf (default /etc/xdg), /etc/pip.conf,
~/.pip/pip.conf, $XDG_CONFIG_HOME/pip/pip.conf, $PIP_CONFIG_FILE; in each, [global] then
[install]; then PIP_* environment variables. pip itself is not run (it takes a second)."""
import configparser
import os
import sys

KEYS = ("index-url", "extra-index-url", "find-links", "cert", "trusted-host", "constraint",
        "no-index")


def config_files(environ=None):
    env = os.environ if environ is None else environ
    explicit = env.get("PIP_CONFIG_FILE")
    if explicit == os.devnull:
        return []
    files = []
    for d in reversed((env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)):
        if d:
            files.append(os.path.join(d, "pip", "pip.conf"))
    files.append("/etc/pip.conf")
    files.append(os.path.join(sys.prefix, "pip.conf"))
    home = os.path.expanduser("~")
    files.append(os.path.join(home, ".pip", "pip.conf"))
    files.append(os.path.join(env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
                              "pip", "pip.conf"))
    if explicit:
        files.append(explicit)
    return files


def _words(value):
    return [w for w in (value or "").split() if w]


class PipSettings(object):
    """What a build needs from the host's pip configuration."""

    def __init__(self, raw, sources):
        self.raw = raw          # key -> string value, after all overrides
        self.sources = sources  # files read, for the build log

    @property
    def index_url(self):
        return self.raw.get("index-url") or None

    @property
    def extra_index_urls(self):
        return _words(self.raw.get("extra-index-url"))

    @property
    def find_links(self):
        return _words(self.raw.get("find-links"))

    @property
    def cert(self):
        return self.raw.get("cert") or None

    @property
    def trusted_hosts(self):
        return _words(self.raw.get("trusted-host"))

    @property
    def constraints(self):
        return _words(self.raw.get("constraint"))

    @property
    def no_index(self):
        return (self.raw.get("no-index") or "").lower() in ("1", "true", "yes", "on")

    def local_wheel_dirs(self):
        """find-links entries that are folders on this machine (plain paths or file:// URLs)."""
        dirs = []
        for link in self.find_links:
            path = link[len("file://"):] if link.startswith("file://") else link
            if "://" not in path and os.path.isdir(path):
                dirs.append(path)
        return dirs


def read(environ=None):
    env = os.environ if environ is None else environ
    raw, sources = {}, []
    for path in config_files(env):
        if not os.path.isfile(path):
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except configparser.Error:
            continue
        sources.append(path)
        for section in ("global", "install"):
            if parser.has_section(section):
                for key in KEYS:
                    if parser.has_option(section, key):
                        raw[key] = parser.get(section, key)
    for key in KEYS:
        value = env.get("PIP_" + key.upper().replace("-", "_"))
        if value is not None:
            raw[key] = value
    return PipSettings(raw, sources)
