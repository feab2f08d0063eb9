"""Strings from result files, made safe to show: result fields (reason, variant, image, paths)
are written by whatever ran in the container, or by anyone with the file, so the terminal table
and the Markdown report never pass them on raw.

visible(text): control characters (C0, DEL, C1, Unicode format characters such as the bidi
    overrides, line and paragraph separators) as visible escapes (\\x1b, \\r, \\u202e): an ESC
    from a result file can no longer recolour, move the cursor or rewrite the terminal, nor a CR
    overwrite a row of the table.
markdown(text): one cell (or run of inline text) of Markdown: HTML's < > & as entities, Markdown
    punctuation (\\ ` * _ [ ] | ~ #) backslash-escaped, control characters visible: no tag, link,
    emphasis, code span or extra table cell can be injected."""
import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HIDDEN = ("Cc", "Cf", "Zl", "Zp")


def _escape(ch):
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return "\\x%02x" % code
    if code < 0x10000:
        return "\\u%04x" % code
    return "\\U%08x" % code


def visible(text):
    """text with every control or format character as a visible escape (see the module)."""
    text = "" if text is None else str(text)
    if all(ch.isprintable() and ch not in "\u2028\u2029" for ch in text):
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in text)


_MARKDOWN = {"\\": "\\\\", "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]",
             "|": "\\|", "~": "\\~", "#": "\\#", "<": "&lt;", ">": "&gt;", "&": "&amp;"}


def markdown(text):
    """text as inert Markdown (see the module); None is the empty string."""
    text = "" if text is None else str(text)
    return visible("".join(_MARKDOWN.get(ch, ch) for ch in text))
