"""python -m zoo <command> [arguments]: the console commands without their zoo- prefix.

python -m zoo list [PATTERN] | card MODEL | train ... | evaluate ... | predict ... | sample ... | export ... |
demo ... | section NAME | compare FOLDER ...
"""

import sys

from zoo import cli

COMMANDS = {
    "list": cli.list_command,
    "card": cli.card_command,
    "train": cli.train_command,
    "evaluate": cli.evaluate_command,
    "predict": cli.predict_command,
    "sample": cli.sample_command,
    "export": cli.export_command,
    "demo": cli.demo_command,
    "section": cli.section_command,
    "compare": cli.compare_command,
}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m zoo {{{'|'.join(COMMANDS)}}} [arguments]", file=sys.stderr)
        sys.exit(2)
    command, rest = COMMANDS[argv[0]], argv[1:]
    sys.argv = [f"zoo-{argv[0]}", *rest]
    command(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
