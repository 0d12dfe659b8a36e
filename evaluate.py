"""Evaluate a checkpoint: python evaluate.py ckpt_path=outputs/train/.../checkpoints/best.ckpt

The same as the console command `zoo-evaluate`. The model and data are rebuilt from the checkpoint;
`data.*` overrides apply on top of it and `data=<preset>` swaps in another compatible data set.
"""

from zoo.cli import evaluate_command

if __name__ == "__main__":
    evaluate_command()
