"""ChestX-ray14's one-off preparation, as 2017 did it before training: every PNG resized to
SIZE x SIZE (264: utils.resize_im) with Pillow's bilinear filter, then converted to RGB, and
saved as PNG. 2017 overwrote the originals; this writes the copies into a folder of their own
(never touching the originals) that tasks/common/chestxray.py reads when it is complete.

    python tasks/prepare_chestxray.py --src DIR/images --out DIR/images-264 [--size 264]
                                      [--workers N]

`dlbench data prepare chestxray14` runs it in a framework image (its pinned Pillow; no host
install); the tests run it on the host as well. Python 3.5, the standard library, numpy (for
common/) and Pillow.

* Parallel: N worker processes (default: the CPUs this process may use) each resize one image
  at a time; the parent process alone writes the journal and prints progress (one JSON object a
  line, {"event": "progress", ...}, about every 2 s).
* Never half-written: a copy is written to <name>.part and renamed to <name> only when complete;
  then the parent appends "<name> <source bytes> <source mtime ns> <source sha256> <copy bytes>"
  to OUT/.journal. A copy counts as done only with a journal line whose source size and mtime
  still match and whose copy has the recorded size; anything else (a .part file, a copy
  renamed but not journaled, a source changed since) is made again. Leftover .part files are
  removed first.
* Idempotent: a second run over an unchanged folder resizes nothing and, when the manifest
  already says the same, writes nothing.
* The manifest, OUT/manifest.json (written last, through a temporary name): the size, mode,
  format, method and Pillow version, the number of copies, and sources_sha256: the sha256 of
  the sorted "<name> <source sha256>" lines (the checksum set of the originals; the per-file
  list is OUT/files.tsv). A run records its sha256 (result.data.images).
* A source Pillow cannot decode: the others are still made; then one line names how many and
  the first, and the exit status is 1 (no manifest: the loaders keep reading the originals).
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import chestxray, cpus  # noqa: E402

JOURNAL = ".journal"
FILES = "files.tsv"
PART = ".part"


def resize_one(job):
    """(name, src, dst, size) -> (name, source bytes, mtime ns, source sha256, copy bytes,
    error or None). 2017's order: resize on the image as stored (grey), then RGB."""
    name, src, dst, size = job
    try:
        from PIL import Image
        st = os.stat(src)
        with open(src, "rb") as f:
            raw = f.read()
        digest = hashlib.sha256(raw).hexdigest()
        import io
        with Image.open(io.BytesIO(raw)) as im:
            out = im.resize((size, size), Image.BILINEAR).convert("RGB")
        part = dst + PART
        out.save(part, format="PNG")
        os.replace(part, dst)
        return (name, st.st_size, st.st_mtime_ns, digest, os.path.getsize(dst), None)
    except Exception as e:  # a corrupt or unreadable source: reported by the parent
        return (name, None, None, None, None, "%s: %s" % (type(e).__name__, e))


def read_journal(out):
    """{name: (source bytes, mtime ns, sha256, copy bytes)} from OUT/.journal; a line that is
    not complete (the process died while writing it) is ignored."""
    done = {}
    path = os.path.join(out, JOURNAL)
    if not os.path.isfile(path):
        return done
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5 or len(parts[3]) != 64:
                continue
            try:
                done[parts[0]] = (int(parts[1]), int(parts[2]), parts[3], int(parts[4]))
            except ValueError:
                continue
    return done


def list_sources(src):
    """The PNG names in src. A PNG that is a symbolic link to a file outside src, or to nothing,
    is an error: the container that resizes sees only the data folder, so the link would be
    skipped here and missing in every run."""
    if not os.path.isdir(src):
        raise SystemExit("error: no image folder %s: run 'dlbench data fetch chestxray14' "
                         "first (or give --data-dir a folder with images/)" % src)
    inside = os.path.realpath(src) + os.sep
    names, outside = [], []
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if not name.lower().endswith(".png") or os.path.isdir(path):
            continue
        if os.path.islink(path):
            target = os.path.realpath(path)
            if not target.startswith(inside) or not os.path.isfile(target):
                outside.append((name, os.readlink(path)))
                continue
        names.append(name)
    if outside:
        raise SystemExit("error: %d image(s) in %s are symbolic links to files outside it or to "
                         "nothing (first: %s -> %s): the preparation and the runs see only the "
                         "data folder; put the files themselves in %s and run it again"
                         % (len(outside), src, outside[0][0], outside[0][1], src))
    if not names:
        raise SystemExit("error: no PNG files in %s" % src)
    return names


def still_done(name, src, out, record):
    """The journal's record of name still describes the source and the copy."""
    if record is None:
        return False
    try:
        st = os.stat(os.path.join(src, name))
        copy = os.path.getsize(os.path.join(out, name))
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == record[:2] and copy == record[3]


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


def manifest_for(names, done, size, pillow):
    lines = ["%s %s\n" % (n, done[n][2]) for n in names]
    return {"dataset": "chestxray14", "what": "prepared copies of images/",
            "size": [size, size], "mode": "RGB", "format": "PNG",
            "method": "PIL Image.open(png).resize((%d, %d), Image.BILINEAR).convert('RGB'), "
                      "saved as PNG: 2017's notebooks/common/utils.py resize_im" % (size, size),
            "pillow": pillow, "count": len(names),
            "sources_sha256": hashlib.sha256("".join(lines).encode("utf-8")).hexdigest(),
            "files": FILES, "complete": True}


def write_atomic(path, text):
    part = path + PART
    with open(part, "w") as f:
        f.write(text)
    os.replace(part, path)


def prepare(src, out, size, workers):
    """Returns the exit status (0 done, 1 some sources could not be decoded)."""
    import PIL
    names = list_sources(src)
    if not os.path.isdir(out):
        os.makedirs(out)
    for leftover in os.listdir(out):  # copies an interrupted run left half-written
        if leftover.endswith(PART):
            os.remove(os.path.join(out, leftover))
    journal = read_journal(out)
    todo = [n for n in names if not still_done(n, src, out, journal.get(n))]
    waiting = set(todo)
    done = dict((n, journal[n]) for n in names if n not in waiting)
    emit("start", total=len(names), done=len(done), todo=len(todo), size=size,
         workers=workers)
    errors, began = [], time.time()
    if todo:
        started = shown = time.time()  # the first progress line after 2 s
        jobs = [(n, os.path.join(src, n), os.path.join(out, n), size) for n in todo]
        pool = multiprocessing.Pool(workers)
        try:
            with open(os.path.join(out, JOURNAL), "a") as log:
                for i, r in enumerate(pool.imap_unordered(resize_one, jobs, chunksize=8), 1):
                    if r[5] is not None:
                        errors.append((r[0], r[5]))
                    else:
                        done[r[0]] = r[1:5]
                        log.write("%s\t%d\t%d\t%s\t%d\n" % r[:5])
                    if time.time() - shown > 2 or i == len(jobs):
                        log.flush()
                        shown = time.time()
                        emit("progress", done=len(done), total=len(names), made=i,
                             todo=len(jobs), seconds=round(shown - started, 1))
            pool.close()
        finally:
            pool.terminate()
            pool.join()
    if errors:
        emit("failed", errors=len(errors))
        denied = [e for e in errors if e[1].startswith("PermissionError")]
        if denied:  # not a broken file: re-fetching would not help
            sys.stderr.write("error: %d of %d image(s) in %s cannot be read here (first: %s: "
                             "permission denied): make them readable by every user (the "
                             "preparation reads as uid %d) and run it again (the %d copies "
                             "made are kept)\n" % (len(denied), len(names), src, denied[0][0],
                                                   os.getuid(), len(done)))
            return 1
        sys.stderr.write("error: %d of %d image(s) in %s cannot be read as PNG (first: %s: %s):"
                         " re-fetch them ('dlbench data fetch chestxray14') and run the "
                         "preparation again (the %d copies made are kept)\n"
                         % (len(errors), len(names), src, errors[0][0], errors[0][1],
                            len(done)))
        return 1
    manifest = manifest_for(names, done, size, PIL.__version__)
    path = os.path.join(out, chestxray.MANIFEST)
    old = None
    if os.path.isfile(path):
        with open(path) as f:
            try:
                old = json.load(f)
            except ValueError:
                old = None
    if old != manifest or not os.path.isfile(os.path.join(out, FILES)):
        write_atomic(os.path.join(out, FILES), "".join(
            "%s\t%s\t%d\n" % (n, done[n][2], done[n][0]) for n in names))
        write_atomic(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    emit("done", total=len(names), made=len(todo), manifest=chestxray.MANIFEST,
         sources_sha256=manifest["sources_sha256"], changed=old != manifest,
         seconds=round(time.time() - began, 1))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="prepare_chestxray.py", description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="the folder of original PNGs (images/)")
    ap.add_argument("--out", required=True, help="the folder of the copies (images-SIZE/)")
    ap.add_argument("--size", type=int, default=264)
    ap.add_argument("--workers", type=int, default=0, help="0: the CPUs this process may use")
    args = ap.parse_args(argv)
    if args.size < 1:
        ap.error("--size must be at least 1")
    workers = args.workers or cpus.available()
    return prepare(os.path.abspath(args.src), os.path.abspath(args.out), args.size, workers)


if __name__ == "__main__":
    sys.exit(main())
