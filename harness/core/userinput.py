"""Click option helpers shared by the commands in cli.py and vendor.py: KEY=VALUE pairs, option
values checked before anything runs (memory limit, seed) and the folders and files a command
writes, checked where they are first used."""
import os
import re
import tempfile

import click

from .errors import HarnessError


def key_value_pairs(ctx, param, values):
    """Callback for repeatable KEY=VALUE options: a dict, or a usage error naming the bad one."""
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise click.BadParameter("expected KEY=VALUE, got %r" % v)
        out[key] = value
    return out


# --memory: what the Docker SDK accepts (a number of bytes, or with a b/k/m/g unit, an optional
# trailing b: 512m, 8g, 8GB, 1.5g), at least the engine's minimum (6 MB: "Minimum memory limit
# allowed is 6MB").
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:([kmg])b?|(b))?$", re.I)
MEMORY_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
MIN_MEMORY = 6 * 1024 ** 2


def memory_bytes(text):
    """The bytes a memory limit such as 8g means; ValueError saying why it is not one."""
    m = _MEMORY.match(text.strip())
    if not m:
        raise ValueError("%r is not a size: a number with a unit b, k, m or g, e.g. 512m or 8g"
                         % text)
    unit = (m.group(2) or m.group(3) or "b").lower()
    size = int(float(m.group(1)) * MEMORY_UNITS[unit])
    if size < MIN_MEMORY:
        raise ValueError("%r is below the Docker engine's minimum memory limit, 6 MB (6m)"
                         % text)
    return size


def memory_limit(ctx, param, value):
    """Callback for --memory: the limit as given (checked with memory_bytes), or None."""
    if value is None:
        return None
    try:
        memory_bytes(value)
    except ValueError as e:
        raise click.BadParameter(str(e))
    return value.strip()


# --seed: numpy's RandomState takes seeds 0 .. 2**32 - 1 (each repeat adds one: repeat N runs
# with seed + N - 1).
MAX_SEED = 2 ** 32 - 1
SEED = click.IntRange(0, MAX_SEED)


def check_seeds(seed, repeat):
    """Usage error when the last repeat's seed (seed + repeat - 1) is beyond numpy's range."""
    if seed + repeat - 1 > MAX_SEED:
        raise click.BadParameter(
            "%d with --repeat %d makes seeds up to %d; numpy takes seeds up to %d"
            % (seed, repeat, seed + repeat - 1, MAX_SEED), param_hint="'--seed'")


def _cannot_write(folder):
    """None when folder is (now) a folder this process can write into, else why not."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".dlbench-write-check-"):
            pass
    except OSError as e:
        return e.strerror or e.__class__.__name__
    return None


def writable_dir(path, what):
    """Make path a folder this process can write into (created when missing), or raise one line
    naming `what` (the option, e.g. --results-dir) and why: a path under a regular file, in
    /proc, on a read-only file system, without permission."""
    why = _cannot_write(path)
    if why:
        raise HarnessError("%s %s: cannot write there (%s)" % (what, path, why))
    return path


def writable_file(path, what):
    """path is a file this process can write (its folder made sure of), or raise one line."""
    if os.path.isdir(path):
        raise HarnessError("%s %s: is a folder; give a file name" % (what, path))
    why = _cannot_write(os.path.dirname(os.path.abspath(path)))
    if why:
        raise HarnessError("%s %s: cannot write there (%s)" % (what, path, why))
    return path
