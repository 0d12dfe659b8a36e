"""The one Markdown table writer: section reports, zoo.compare, the model cards and the rendered docs."""

from __future__ import annotations


def markdown(header: list[str], rows: list[list]) -> str:
    show = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(show(v) for v in row) + " |" for row in rows]) + "\n"
