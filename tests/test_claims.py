"""The claims ledger, the sections' records and docs/claims.md in step: every verdict the ledger names is in its
section's record, decided, with numbers; every verdict a record holds is in the ledger; a malformed ledger is
a sentence."""

from __future__ import annotations

import pytest

from sections import SECTIONS
from sections.ledger import claims, decided
from zoo import records
from zoo.errors import UserError


def test_every_verdict_the_ledger_names_is_decided_in_its_sections_record_with_numbers():
    missing, undecided = [], []
    for claim in claims():
        for name in claim.verdicts:
            verdict = decided(name)
            if verdict is None:
                missing.append(name)
            elif verdict["holds"] is None or "(" not in verdict["line"]:
                undecided.append(name)
            elif verdict["conditions"]:
                assert f"conditions: {verdict['conditions']}" in verdict["line"], name
    assert missing == [], f"not in the records (make results ONLY=section_<name>): {missing}"
    assert undecided == []


def test_every_verdict_of_every_section_record_is_in_the_ledger():
    named = {name for claim in claims() for name in claim.verdicts}
    for section in SECTIONS:
        record = records.measured(f"section_{section}")
        assert record is not None and "decided" in record, f"make results ONLY=section_{section}"
        for key in record["decided"]:
            assert f"{section}.{key}" in named, f"{section}.{key} decides no claim of sections/claims.yaml"


def test_the_ledger_covers_the_slides_and_says_why_where_nothing_measures():
    entries = claims()
    assert len(entries) >= 80
    assert {c.slide.split(":")[0] for c in entries} >= {"The Perceptron", "ImageNet Challenge", "FUTURE"}
    assert all(c.not_empirical or c.open or c.verdicts for c in entries)


@pytest.mark.parametrize(
    "text, says",
    [
        ("- slide: s\n  claim: c\n", "exactly one of verdicts, not_empirical, open"),
        ("- slide: s\n  claim: c\n  open: x\n  not_empirical: y\n", "exactly one of"),
        ("- slide: s\n  claim: c\n  verdicts: [nosuchsection.key]\n", "a verdict is <section>.<key>"),
        ("- slide: s\n  claim: c\n  rule: r\n  open: x\n", "must have slide, claim and one of"),
    ],
)
def test_a_malformed_ledger_is_a_sentence(tmp_path, text, says):
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=says):
        claims(path)
