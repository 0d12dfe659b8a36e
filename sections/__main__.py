"""python -m sections NAME [--scale smoke|default|paper]   (NAME = all for every section + reports/index.md;
--list names the sections with what each shows)"""

import argparse
import importlib

from sections import SECTIONS
from sections.common import SCALES, reports_dir
from zoo.files import write_whole


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="zoo-section", description=__doc__)
    parser.add_argument("name", nargs="?", choices=[*SECTIONS, "all"])
    parser.add_argument("--scale", choices=SCALES, default="default")
    parser.add_argument("--list", action="store_true", help="name the sections with what each report shows")
    args = parser.parse_args(argv)
    if args.list or args.name is None:
        width = max(map(len, SECTIONS)) + len("section-") + 2
        print("\n".join(f"{'section-' + name:<{width}}{shows}" for name, shows in SECTIONS.items()))
        return
    names = list(SECTIONS) if args.name == "all" else [args.name]
    for name in names:
        importlib.import_module(f"sections.{name}").main(args.scale)
    if args.name == "all":
        import json

        lines = ["# Lecture sections, re-measured", ""]
        for name in SECTIONS:
            summary = json.loads((reports_dir() / name / "summary.json").read_text())
            lines += [f"## [{name}]({name}.md) ({summary['seconds']:.0f} s)", "", *summary["verdicts"], ""]
        write_whole(reports_dir() / "index.md", "\n".join(lines))
        print(f"wrote {reports_dir() / 'index.md'}")


if __name__ == "__main__":
    from zoo.way_out import way_out

    with way_out("the section stopped before it wrote its report; run it again"):
        main()
