"""One module per lecture section: each re-measures the slides' claims and writes reports/<section>.md.

SECTIONS is the one list of them, in the lecture's order, with what each report shows: `python -m sections`,
the Makefile's `section-<name>` targets, the records (`make results`) and the docs all read it.
"""

SECTIONS = {
    "intro": "why deep learning: learning curves against classical models, hand-made vs learned features, "
    "mini-batch parallelism",
    "perceptron": "activations, perceptron vs MLP boundaries, universal approximation",
    "backprop": "BP1-BP4 from scratch vs autograd; gradient descent with them",
    "gd": "full-batch GD vs SGD vs mini-batch: loss against epochs and seconds",
    "rnn": "RNN/IRNN/LSTM/GRU memory over distance; vanishing, exploding, clipped gradients",
    "cnn": "the slides' conv/pool examples, X filters, CNN vs fully connected, learned filters",
    "vision": "what a CNN is invariant to: shift, scale, rotation, deformation, occlusion, light, clutter, "
    "viewpoint; pixel order, pooling, the feature hierarchy, X and O glyphs, filter effects",
    "imagenet": "AlexNet, ZFNet, VGG, GoogLeNet, ResNet: counted at ImageNet size, trained small on digits",
    "resnet": "plain vs residual nets at depth 20 and 56; ResNet vs ODENet",
    "beyond": "autoencoder code vs PCA, segmentation, detection, captioning on generated scenes",
    "generative": "GAN on the ring, DCGAN digits, RealNVP moons/digits, outlier AUROC",
    "future": "open questions at small scale: how deep is enough, the loss surface's geometry, less data",
}
