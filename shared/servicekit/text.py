"""Text a person typed as a name: printable, one line, no direction tricks.

Names are shown on bills, lists and printed pages. A control character (NUL cannot even be
stored in PostgreSQL text) or a bidirectional override such as U+202E, which makes
"Ram‮1234" display reversed, has no place in them (issue 10, defect 6). Joiners (U+200C,
U+200D) stay allowed: Indic and Arabic names need them.
"""

from __future__ import annotations

import unicodedata

# Explicit embeddings, overrides and isolates, and the implicit marks (Unicode UAX #9).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def plain_text(value: str) -> str:
    """Refuse control characters (category Cc), lone surrogates (Cs) and bidi controls."""
    for ch in value:
        if ch in BIDI_CONTROLS:
            raise ValueError(
                f"must not contain bidirectional formatting characters (U+{ord(ch):04X})"
            )
        category = unicodedata.category(ch)
        if category == "Cc":
            raise ValueError(f"must not contain control characters (U+{ord(ch):04X})")
        if category == "Cs":
            raise ValueError("must not contain unpaired surrogates")
    return value
