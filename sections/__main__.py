"""python -m sections NAME [--scale smoke|default|paper]   (NAME = all for every section + reports/index.md)"""

import argparse
import importlib

from sections.common import SCALES, reports_dir
from zoo.files import write_whole

SECTIONS = ["perceptron", "backprop", "gd", "cnn", "resnet", "rnn", "generative", "beyond"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="zoo-section", description=__doc__)
    parser.add_argument("name", choices=SECTIONS + ["all"])
    parser.add_argument("--scale", choices=SCALES, default="default")
    args = parser.parse_args(argv)
    names = SECTIONS if args.name == "all" else [args.name]
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
