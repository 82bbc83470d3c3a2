"""The table model every report table is built on (the paper's and the studies' tables, the verdicts, where every
number comes from): a format-neutral ``Table`` of ``Cell``; ``formats.py`` renders it as Markdown, LaTeX (booktabs)
and Typst. A cell without a value carries the reason (``Cell.reason``): Markdown prints "— (reason)", LaTeX/Typst
print "—" with a footnote letter explained under the table."""

from __future__ import annotations

from dataclasses import dataclass, field


# a cell's judgement (a verdict), shown the way each format can: a mark in Markdown, a colour in Typst
TONES = ("good", "bad", "unsure", "none")


@dataclass
class Cell:
    text: str = ""
    reason: str | None = None  # set: the value is missing; "" = a plain dash
    strong: bool = False
    tone: str | None = None  # one of TONES
    code: bool = False  # an identifier (run id, file path): Markdown shows it as code
    anchor: str | None = None  # a link target of that name (Markdown; the Ref. ids the tables link to)

    @property
    def missing(self) -> bool:
        return self.reason is not None


def dash(reason: str = "") -> Cell:
    return Cell(reason=reason)


# sections of the report, in order: the paper's tables, one table per study, costs, deployment (artifact, roofline)
SECTIONS = ("Paper tables", "Studies", "Costs", "Deployment")


@dataclass
class Table:
    key: str  # file stem: table1, study_relan, verdicts
    number: str  # "1", "1 (latency)", "5a", "" for unnumbered tables
    title: str
    caption: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    groups: list[tuple[str, int]] | None = None  # header groups spanning columns (label, span)
    align: str = ""  # one letter per column: l / r / c
    rules: set[int] = field(default_factory=set)  # row indices preceded by a rule
    notes: list[str] = field(default_factory=list)
    wide: bool = False
    section: str = SECTIONS[0]
    widths: tuple[str, ...] | None = None  # Typst column widths ("2.2fr", ...); None: sized by their contents

    @property
    def heading(self) -> str:
        return f"Table {self.number}: {self.title}" if self.number else self.title

    def add(self, cells: list[Cell], rule: bool = False) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.key}: row has {len(cells)} cells, expected {len(self.columns)}")
        if rule and self.rows:
            self.rules.add(len(self.rows))
        self.rows.append(cells)

    def note(self, text: str) -> None:
        if text and text not in self.notes:
            self.notes.append(text)

    def flat_columns(self) -> list[str]:
        """Column labels with their group prefixed (for formats without multi-row headers)."""
        if not self.groups:
            return list(self.columns)
        out, i = [], 0
        for label, span in self.groups:
            for c in self.columns[i:i + span]:
                out.append(f"{label} {c}".strip() if label else c)
            i += span
        return out

    def column(self, label: str) -> list[Cell]:
        """The cells of the column whose flat label is ``label`` (for tests and renderers)."""
        i = self.flat_columns().index(label)
        return [row[i] for row in self.rows]


def arrange(tables: list, figures: list) -> tuple[list, list]:
    """The report's order: per section, each table with the figure drawn for it (a study's figure sits right under
    its table), then the figures left for the Figures section, in their order."""
    by_stem = {f.stem: f for f in figures}
    sections = []
    for section in SECTIONS:
        members = [(t, by_stem.get(t.key)) for t in tables if t.section == section]
        if members:
            sections.append((section, members))
    placed = {t.key for _, members in sections for t, f in members if f is not None}
    return sections, [f for f in figures if f.stem not in placed]

