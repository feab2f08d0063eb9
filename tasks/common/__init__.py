"""Framework-free parts of the task runtime (Python 3.5 syntax, stdlib + numpy only)."""
