"""python -m zoo list: every model preset with its network, learner and the data it learns from."""

import sys


def main(argv: list[str]) -> int:
    if argv[:1] != ["list"]:
        print("usage: python -m zoo list", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.table import Table

    from zoo.registry import list_models

    table = Table(title="models (python train.py model=<name> data=<one of its data>)")
    for column in ("model", "network", "learner", "data"):
        table.add_column(column)
    for entry in list_models().values():
        table.add_row(
            entry.name,
            entry.network.removeprefix("zoo.nets."),
            entry.learner.removeprefix("zoo.learners."),
            ", ".join(entry.data),
        )
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
