"""Where things live: the project root (images/, tasks/, results/) and the default folders.

The root is DLBENCH_ROOT when set, else the nearest folder at or above the current directory that
holds both images/ and tasks/, else the checkout this package was installed from (editable)."""
import os

from .errors import HarnessError

ROOT_ENV = "DLBENCH_ROOT"
DATA_ENV = "DLBENCH_DATA"
RESULTS_ENV = "DLBENCH_RESULTS"


def _is_root(folder):
    return (os.path.isdir(os.path.join(folder, "images"))
            and os.path.isdir(os.path.join(folder, "tasks")))


def project_root():
    explicit = os.environ.get(ROOT_ENV)
    if explicit:
        if not _is_root(explicit):
            raise HarnessError("%s=%s has no images/ and tasks/ folders" % (ROOT_ENV, explicit))
        return os.path.abspath(explicit)
    folder = os.getcwd()
    while True:
        if _is_root(folder):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if _is_root(checkout):
        return checkout
    raise HarnessError("cannot find the dlbench project (images/ and tasks/): run from the "
                       "checkout or set %s" % ROOT_ENV)


def images_dir(root=None):
    return os.path.join(root or project_root(), "images")


def tasks_dir(root=None):
    return os.path.join(root or project_root(), "tasks")


def schema_path(root=None):
    return os.path.join(tasks_dir(root), "runtime", "result.schema.json")


def results_dir(root=None):
    return os.environ.get(RESULTS_ENV) or os.path.join(root or project_root(), "results")


def data_dir(root=None):
    return os.environ.get(DATA_ENV) or os.path.join(root or project_root(), "data")


def logs_dir(results=None):
    return os.path.join(results or results_dir(), "logs")
