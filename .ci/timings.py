"""The time table .ci/run prints at its end: each phase, each image build, each test file, in
seconds, from what the run left in its timings folder:

  phases.tsv   one line per phase: name, seconds (.ci/run's `step`)
  builds.log   the output of `dlbench build` ("built NAME in N s" / "NAME is up to date")
  junit.xml    pytest's report (per test case: file and seconds)

Usage: python3 .ci/timings.py FOLDER. Standard library only; missing files are said, not fatal
(the table is printed after a failed phase too)."""
import collections
import os
import re
import sys
import xml.etree.ElementTree as ET

_BUILT = re.compile(r"^built (\S+) in (\d+) s\b")
_REUSED = re.compile(r"^(\S+) is up to date\b")


def phases(folder):
    """[(name, seconds)] in the order the phases ran."""
    out = []
    try:
        with open(os.path.join(folder, "phases.tsv")) as f:
            for line in f:
                name, _, seconds = line.rstrip("\n").rpartition("\t")
                if name:
                    out.append((name, int(seconds)))
    except OSError:
        pass
    return out


def builds(folder):
    """[(image, seconds or None when reused)] as `dlbench build` reported them."""
    out = []
    try:
        with open(os.path.join(folder, "builds.log")) as f:
            for line in f:
                m = _BUILT.match(line.strip())
                if m:
                    out.append((m.group(1), int(m.group(2))))
                    continue
                m = _REUSED.match(line.strip())
                if m:
                    out.append((m.group(1), None))
    except OSError:
        pass
    return out


def module_file(classname):
    """tests/test_x.py of a junit classname (tests.test_x, or tests.test_x.TestClass)."""
    parts = classname.split(".")
    for i, part in enumerate(parts):
        if part.startswith("test_"):
            return "/".join(parts[:i + 1]) + ".py"
    return classname


def test_files(folder):
    """{test file: (seconds, test cases)} from pytest's junit report."""
    totals = collections.OrderedDict()
    try:
        root = ET.parse(os.path.join(folder, "junit.xml")).getroot()
    except (OSError, ET.ParseError):
        return totals
    for case in root.iter("testcase"):
        name = case.get("file") or module_file(case.get("classname") or "?")
        seconds, count = totals.get(name, (0.0, 0))
        totals[name] = (seconds + float(case.get("time") or 0), count + 1)
    return totals


def table(title, rows, total=None):
    width = max([len(title)] + [len(r[0]) for r in rows] + [5])
    lines = ["", "%-*s  %8s" % (width, title, "seconds")]
    for row in rows:
        lines.append("%-*s  %8s%s" % (width, row[0], row[1], row[2] if len(row) > 2 else ""))
    if total is not None:
        lines.append("%-*s  %8d" % (width, "total", total))
    return lines


def report(folder):
    lines = ["=== CI time table (seconds)"]
    ph = phases(folder)
    lines += table("phase", ph, sum(s for _, s in ph)) if ph else ["", "no phase recorded"]
    bl = builds(folder)
    if bl:
        lines += table("image build", [(n, "reused" if s is None else s) for n, s in bl])
    tf = test_files(folder)
    if tf:
        rows = sorted(tf.items(), key=lambda kv: -kv[1][0])
        lines += table("test file", [(n, "%.0f" % s, "  %4d tests" % c) for n, (s, c) in rows],
                       int(round(sum(s for s, _ in tf.values()))))
    else:
        lines += ["", "no junit report (the tests did not run to their end)"]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 .ci/timings.py FOLDER")
    print(report(sys.argv[1]))
