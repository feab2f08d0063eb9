"""What a task file declares at its top level, read with ast (no framework imported): e.g. the
PARAMETERS tasks/inference/<adapter>.py declares and tasks/run.py asserts."""
import ast
import os

from helpers import TASKS


def declared(task, adapter, name, default=None):
    """The literal value of NAME = ... in tasks/<task>/<adapter>.py, or default."""
    path = os.path.join(TASKS, task, adapter + ".py")
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    return default
