"""Train any model of the zoo: python train.py model=mlp data=digits trainer=cpu [key=value ...]

`python train.py --help` lists the config groups and their options.
"""

import hydra

import zoo.config  # noqa: F401 - registers the ${zoo_root:} and ${pixel_scaling:} resolvers the configs use


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg) -> float | None:
    from zoo.errors import reported_as_sentences
    from zoo.run import train

    metrics = {}  # stays empty when the run fails with a sentence (inside a sweep, the sweep goes on)
    with reported_as_sentences():
        metrics = train(cfg)
    # A multirun sweeper (hparams_search=..., zoo/search.py) optimises the returned value.
    return metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
