"""Click option helpers shared by the commands in cli.py and vendor.py."""
import click


def key_value_pairs(ctx, param, values):
    """Callback for repeatable KEY=VALUE options: a dict, or a usage error naming the bad one."""
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise click.BadParameter("expected KEY=VALUE, got %r" % v)
        out[key] = value
    return out
