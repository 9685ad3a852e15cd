"""User text in matplotlib figures, shown exactly as written.

Matplotlib reads text between two ``$`` as mathtext: a scenario named ``$\\frac{$`` would fail
to draw, and ``$x$`` would be typeset as math. Every title, axis label, legend entry, tick label
and annotation that carries a user's string (scenario, strategy, revision and image names,
swept parameters and their values, configuration labels) goes through :func:`plain`, which
escapes each ``$`` (matplotlib shows ``\\$`` as a dollar sign). Text that is only ours (fixed
words, numbers we format) needs no escaping; text mixing ours with a user's goes through
:func:`plain` whole. Matplotlib's own tick labels (log axes) keep their mathtext.
"""

from __future__ import annotations


def plain(text: object) -> str:
    """``text`` as a literal matplotlib label: no mathtext, whatever it holds."""
    return str(text).replace("$", "\\$")
