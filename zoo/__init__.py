"""lecture-zoo: the models of the MA333 deep-learning lecture, trainable from one command line."""
