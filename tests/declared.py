"""What a task file declares as a constant, read without importing its framework (the host
has none): e.g. PARAMETERS, the parameter count tasks/rnn/tensorflow.py says its model has."""
import ast
import os

TASKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tasks")


def constant(task, adapter, name, default=None):
    """The literal assigned to `name` at the top of tasks/<task>/<adapter>.py, else default."""
    path = os.path.join(TASKS, task, adapter + ".py")
    if not os.path.exists(path):
        return default
    for node in ast.parse(open(path).read(), path).body:
        targets = [getattr(t, "id", None) for t in getattr(node, "targets", ())]
        if isinstance(node, ast.Assign) and targets == [name]:
            return ast.literal_eval(node.value)
    return default
