"""The front door holds: every page is what its records render, no figure is typed by hand, every link
and path a page names exists, a card per model, and README stays short."""

from __future__ import annotations

import re
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import render_docs as docs

# its tests share module fixtures: one worker runs them all (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_docs")

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# a measured figure: a decimal, a percentage, a duration, a ratio such as 1.2x, a count such as 53k
FIGURE = re.compile(
    r"\d\.\d|\d\s?%|\b\d+(\.\d+)?\s?(s|ms|min|minutes?|seconds?|hours?)\b|\b\d+(\.\d+)?\s?[x×](?!\w)|\b\d+k\b"
)
GENERATED = re.compile(r"<!-- generated:([a-z_]+) -->.*?<!-- /generated:\1 -->|```.*?```", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
PATH = re.compile(r"`((?:configs|zoo|datamodules|benchmarks|sections|tests|docs|notebooks|hydra_plugins)/[\w./-]*)`")


def hand_written(text: str) -> list[str]:
    """The page's lines outside the rendered parts and code blocks, inline code and link targets removed."""
    text = GENERATED.sub(lambda m: "\n" * m[0].count("\n"), text)
    return [re.sub(r"`[^`]*`|\]\([^)]*\)", "", line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def rendered():
    return docs.pages()


def test_every_page_is_what_its_records_render(rendered):
    stale = [str(p.relative_to(ROOT)) for p, text in rendered.items() if not p.is_file() or p.read_text() != text]
    assert stale == [], f"run `make docs`: {stale}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_figure_is_typed_by_hand(page):
    typed = [f"{page.name}:{i}: {line.strip()}" for i, line in enumerate(hand_written(page.read_text()), 1)
             if FIGURE.search(line)]  # fmt: skip
    assert typed == [], "a figure outside a rendered part (make it come from a record):\n" + "\n".join(typed)


def test_the_figure_rule_finds_what_it_should():
    assert [bool(FIGURE.search(line)) for line in hand_written(
        "took 3.5 s\n98 % right\n1.2x faster\n53k parameters\n2x200 LSTM on 8×8 digits\n`lr: 0.1`\n"
        "<!-- generated:models -->\n0.99\n<!-- /generated:models -->\n")] == [True] * 4 + [False] * 5  # fmt: skip


def test_every_link_and_path_exists(rendered):
    missing = []
    for page, text in rendered.items():
        for target in LINK.findall(text):
            if not target.startswith(("http://", "https://", "#", "mailto:")):
                if not (page.parent / target.split("#")[0]).exists():
                    missing.append(f"{page.relative_to(ROOT)}: link {target}")
        for path in PATH.findall(text):
            if not (ROOT / path.rstrip("/.")).exists():
                missing.append(f"{page.relative_to(ROOT)}: path {path}")
    assert missing == []


CODE_BLOCK = re.compile(r"```.*?```", re.S)
TOP = "configs|zoo|datamodules|benchmarks|sections|tests|docs|notebooks|hydra_plugins"
BARE_PATH = re.compile(rf"(?<![\w/.])((?:{TOP})/[\w./-]*)")
BARE_FILE = re.compile(r"(?<![\w/.<])([a-z_]\w*\.py)\b")


def test_every_path_in_a_code_block_exists(rendered):
    """A layout drawn in a code block names only files that are there (a path, or a file name found in the tree)."""
    files = {p.name for p in ROOT.rglob("*.py") if ".venv" not in p.parts}
    missing = []
    for page, text in rendered.items():
        for block in CODE_BLOCK.findall(text):
            missing += [f"{page.relative_to(ROOT)}: {p}" for p in BARE_PATH.findall(block)
                        if not (ROOT / p.rstrip("/.")).exists()]  # fmt: skip
            missing += [f"{page.relative_to(ROOT)}: {f}" for f in BARE_FILE.findall(block) if f not in files]
    assert missing == []


def test_code_cites_only_readme_sections_that_exist():
    headings = re.findall(r"^## (.+)$", (ROOT / "README.md").read_text(), re.M)
    cited = []
    for path in [*ROOT.glob("*.py"), *(p for d in ("zoo", "datamodules", "sections", "benchmarks", "configs")
                                      for p in (ROOT / d).rglob("*.[py][ya]*"))]:  # fmt: skip
        for name in re.findall(r"README,\s+\"?([A-Z][\w ]+)", path.read_text()):
            if not any(h.startswith(name.strip()) for h in headings):
                cited.append(f"{path.relative_to(ROOT)}: README, {name}")
    assert cited == []


def test_readme_is_short_and_every_model_has_its_card(rendered):
    from zoo.catalog import list_models

    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for model in list_models():
        assert f"(docs/models/{model}.md)" in readme and (ROOT / "docs" / "models" / f"{model}.md") in rendered


def test_a_card_on_the_command_line_is_its_page(capsys):
    from zoo.cli import card_command

    card_command(["resnet"])
    assert capsys.readouterr().out == (ROOT / "docs" / "models" / "resnet.md").read_text()
    with pytest.raises(SystemExit) as stopped:
        card_command(["nosuchmodel"])
    assert stopped.value.code == 2 and "python -m zoo list" in capsys.readouterr().err


def test_every_paper_figure_names_its_source_and_preset():
    from zoo.catalog import list_models

    for model, entry in list_models().items():
        about = entry.about
        assert about["slide"] and about["what"] and about["data"] and about["metric"].startswith("test/")
        for paper in about.get("papers") or []:
            assert paper["claim"] and paper["source"] and paper["preset"], (model, paper)
