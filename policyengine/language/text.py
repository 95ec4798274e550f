"""Text from policy files and requests, made safe to show.

Policy files and requests are written by others: a jurisdiction name or a
because-text may carry terminal escape sequences, bidirectional overrides or
zero-width characters.  Everything a person reads goes through :func:`safe`,
everything a program reads through :func:`json_safe`; both live here, below
the renderers and the highlighter that use them, so that neither has to import
the other.
"""

from __future__ import annotations


def escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(text: str) -> str:
    """``text`` with control characters escaped, so it cannot drive a terminal (tabs are kept)."""
    if text.isprintable() or text.replace("\t", "").isprintable():
        return text
    return "".join(ch if ch == "\t" or ch.isprintable() else escape(ch) for ch in text)


def json_safe(text: str) -> str:
    """JSON text with every non-printable character escaped (``json.dumps`` leaves C1
    controls and bidirectional overrides as they are when ``ensure_ascii`` is off).

    Every JSON output of the command line goes through it; the checks in C
    first, so that clean text (nearly all of it) costs no loop in Python."""
    if text.isprintable() or text.replace("\n", "").isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch == "\n" or ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            v = ord(ch) - 0x10000
            out.append(f"\\u{0xD800 + (v >> 10):04x}\\u{0xDC00 + (v & 0x3FF):04x}")
    return "".join(out)
