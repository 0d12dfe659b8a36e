"""The claims ledger (sections/claims.yaml): every claim of the lecture and the section verdicts that decide it.

A verdict is named `<section>.<key>`: the key a section gives `Report.verdict`, found in the section's record
(`section_<name>`, written by `make results ONLY=section_<name>`) under `decided`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from sections import SECTIONS
from zoo import records
from zoo.errors import UserError

LEDGER = Path(__file__).with_name("claims.yaml")


@dataclass(frozen=True)
class Claim:
    slide: str
    claim: str
    verdicts: tuple[str, ...] = ()  # <section>.<key>
    not_empirical: str = ""  # why nothing can measure it
    open: str = ""  # what would decide it, while nothing does


def claims(path: Path = LEDGER) -> list[Claim]:
    """The ledger, each entry checked: a slide, a claim, and one of verdicts / not_empirical / open."""
    entries = yaml.safe_load(path.read_text())
    out = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) - {"slide", "claim", "verdicts", "not_empirical", "open"}:
            raise UserError(f"{path.name}: entry {i} must have slide, claim and one of verdicts, not_empirical, open")
        claim = Claim(**{k: tuple(v) if k == "verdicts" else v for k, v in entry.items()})
        if not (claim.slide and claim.claim) or sum(map(bool, (claim.verdicts, claim.not_empirical, claim.open))) != 1:
            raise UserError(f"{path.name}: entry {i} ({claim.slide}) needs a slide, a claim and exactly one of "
                            "verdicts, not_empirical, open")  # fmt: skip
        for name in claim.verdicts:
            if name.split(".")[0] not in SECTIONS or "." not in name:
                raise UserError(f"{path.name}: entry {i} names {name!r}; a verdict is <section>.<key>")
        out.append(claim)
    return out


def decided(name: str) -> dict | None:
    """The verdict `<section>.<key>` as its section's record holds it (holds, line, conditions), or None."""
    section, key = name.split(".", 1)
    record = records.measured(f"section_{section}")
    return None if record is None else record.get("decided", {}).get(key)
