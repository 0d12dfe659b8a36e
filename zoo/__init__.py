"""lecture-zoo: the models of the MA333 deep-learning lecture, trainable from one command line.

From Python: `from zoo import train, evaluate, predict, sample, export, load, list_models, create_model`
(zoo/api.py, imported when first asked for).
"""

API = ("train", "evaluate", "predict", "sample", "export", "load", "list_models", "create_model")


def __getattr__(name: str):
    if name in API:
        from zoo import api

        return getattr(api, name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
