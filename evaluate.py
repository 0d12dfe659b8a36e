"""Evaluate a checkpoint: python evaluate.py ckpt_path=outputs/train/.../checkpoints/best.ckpt

The model and data are rebuilt from the spec stored in the checkpoint; `data.*` overrides
apply on top of it and `data=<preset>` swaps in another compatible data set.
"""

import sys

import hydra

import zoo.config  # registers the ${zoo_root:} and ${pixel_scaling:} resolvers the configs use


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig

    from zoo.errors import reported_as_sentences
    from zoo.run import evaluate

    with reported_as_sentences():
        evaluate(cfg, list(HydraConfig.get().overrides.task))


if __name__ == "__main__":
    sys.argv[1:] = zoo.config.data_overrides_apply_to_any_data(sys.argv[1:])
    main()
