"""How numbers and text look on a card.

One place for it, so the tables, the derived sentences and the lint agree on what "99.50%" or "3e-4" means. Every
function is pure and locale-independent: the same value always gives the same string (the card is byte-stable).
These are also the Jinja filters of the card templates (see :data:`FILTERS`).
"""

from __future__ import annotations

import json
import math
import re

_WS = re.compile(r"\s+")


def thousands(value: int | float) -> str:
    """148994 -> '148,994'."""
    return f"{int(value):,}"


def percent(value: float, digits: int = 2) -> str:
    """A value already in percent -> '0.22%'.

    Tiny non-zero values get as many more decimals as they need (up to 6), so 0.004% never shows as '0.00%'.
    """
    value = float(value)
    if not math.isfinite(value):
        return f"{value}%"
    while 0 < abs(value) < 10 ** (-digits) * 0.5 and digits < 6:
        digits += 1
    return f"{value:.{digits}f}%"


def number(value: float, significant: int = 4) -> str:
    """A loss or other measured float at `significant` digits: 0.02180 -> '0.0218', 0.334 -> '0.334'."""
    value = float(value)
    if value == 0:
        return "0"
    return f"{value:.{significant}g}"


def sci(value: float) -> str:
    """A hyperparameter as people write it: 0.0003 -> '3e-4', 2e-05 -> '2e-5', 0.01 -> '0.01', 16.0 -> '16'."""
    value = float(value)
    if value != 0 and math.isfinite(value) and (abs(value) < 1e-3 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.3e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:g}"


def ratio(value: float) -> str:
    """A 'times more' factor: 3.94 -> '3.9x', 4.0 -> '4x'."""
    text = f"{value:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "x"


def duration(seconds: float) -> str:
    """Wall time for people: 42 -> '42 s', 725 -> '12 min 5 s', 6180 -> '1 h 43 min', 97200 -> '27 h 0 min'."""
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def oneline(text: object) -> str:
    """Collapse all whitespace (newlines included) to single spaces: for list items and sentences."""
    return _WS.sub(" ", str(text)).strip()


def sentence(text: object) -> str:
    """One line of text that ends like a sentence, so a following sentence does not run into it."""
    text = oneline(text)
    return text if not text or text[-1] in ".!?" else text + "."


def cell(value: object) -> str:
    """Make any value safe inside a Markdown table cell.

    A `|` would end the cell and a newline would end the row, so `|` is escaped and line breaks become `<br>`.
    Backslashes are escaped first so that an existing `\\|` cannot un-escape the pipe.
    """
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(part.strip() for part in text.split("\n"))


def pystr(value: object) -> str:
    """A Python string literal for the usage snippet (JSON string syntax is valid Python)."""
    return json.dumps(str(value), ensure_ascii=False)


def count_word(n: int) -> str:
    """3 -> 'Three': small counts read better as words at the start of a sentence."""
    words = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]
    return words[n] if 0 <= n < len(words) else str(n)


FILTERS = {
    "thousands": thousands,
    "percent": percent,
    "number": number,
    "sci": sci,
    "ratio": ratio,
    "duration": duration,
    "oneline": oneline,
    "sentence": sentence,
    "cell": cell,
    "pystr": pystr,
    "count_word": count_word,
}
