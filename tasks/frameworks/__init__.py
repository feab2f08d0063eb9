"""One module per framework: what all of its task files share (see tasks/README.md)."""
