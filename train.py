"""Train any model of the zoo: python train.py model=mlp data=digits trainer=cpu [key=value ...]

The same as the console command `zoo-train`; `python train.py --help` lists the config groups.
"""

from zoo.cli import train_command

if __name__ == "__main__":
    train_command()
