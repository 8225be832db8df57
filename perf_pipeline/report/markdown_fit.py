"""Fitting the Markdown report into GitHub's comment size limit.

When the 65,536-character limit bites, detail is what goes: table rows are dropped least
interesting table first, from the end, and a note says so; if even that is not enough the
text is cut at a line with a note. Rendering never fails on size. Each note says where
the whole report is (``see``: a link to the HTML report, or where its file is) only when
the caller knows: a note that promised "the HTML report" and gave no way to find it left
the reader of a cut PR comment with nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GITHUB_COMMENT_LIMIT", "Block", "Table", "fit_blocks", "render_blocks"]

#: GitHub rejects issue comments longer than this many characters.
GITHUB_COMMENT_LIMIT = 65_536


@dataclass
class Table:
    """A block whose rows may be dropped (from the end) to fit the size limit."""

    priority: int  # lower is dropped first
    head: list[str]
    rows: list[str]
    tail: list[str] = field(default_factory=list)
    keep: int = -1
    see: str = ""  # where the rows left out are (set by ``fit_blocks``)

    def __post_init__(self) -> None:
        self.keep = len(self.rows)

    def omitted_note(self) -> str:
        n = len(self.rows) - self.keep
        if n <= 0:
            return ""
        return (f"\n_… {n} more row{'s' if n > 1 else ''} not shown "
                f"(GitHub comment size limit){_see(self.see)}._\n")

    def render(self) -> str:
        lines = [*self.head, *self.rows[: self.keep]]
        body = "\n".join(lines) + "\n" if lines else ""
        return body + self.omitted_note() + ("\n".join(self.tail) + "\n" if self.tail else "")


Block = str | Table


def _see(see: str) -> str:
    return f"; {see}" if see else ""


def render_blocks(blocks: list[Block]) -> str:
    """The document: each block rendered (a table with the rows it keeps), one per line."""
    parts = [b.render() if isinstance(b, Table) else b for b in blocks]
    return "\n".join(parts)


def fit_blocks(blocks: list[Block], *, max_chars: int, see: str = "") -> str:
    """The document of at most ``max_chars`` characters.

    Tables shrink from their least interesting rows (lowest ``priority`` first); if even
    that is not enough the text is cut at a line with a note. ``see`` is Markdown saying
    where the whole report is ("see the [HTML report](…)"), added to every such note;
    empty, the notes point nowhere.
    """
    for block in blocks:
        if isinstance(block, Table):
            block.see = see
    text = render_blocks(blocks)
    if len(text) <= max_chars:
        return text
    tables = sorted((b for b in blocks if isinstance(b, Table)), key=lambda t: t.priority)
    for table in tables:
        excess = len(text) - max_chars
        # Estimate from row lengths first (re-rendering per row would be quadratic) ...
        while table.keep > 0 and excess > 0:
            table.keep -= 1
            excess -= len(table.rows[table.keep]) + 1
        text = render_blocks(blocks)
        # ... then settle the few characters the omission note itself costs.
        while len(text) > max_chars and table.keep > 0:
            table.keep -= 1
            text = render_blocks(blocks)
        if len(text) <= max_chars:
            return text
    text = render_blocks(blocks)
    if len(text) <= max_chars:
        return text
    note = f"\n\n_… report cut here (GitHub comment size limit){_see(see)}._\n"
    cut = text.rfind("\n", 0, max_chars - len(note))
    return (text[: max(cut, 0)] + note)[:max_chars]
