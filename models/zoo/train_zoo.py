"""Train the development zoo: small, varied CNNs to tune and measure featviz's pattern recipe on (issue #30).

    python models/zoo/train_zoo.py --data ../shared/data/cifar10-jpeg.zip --mnist ../shared/data/mnist-10k.npz
    python models/zoo/train_zoo.py --data ... --mnist ... --only c10_plain_small,mnist_dw_relu6

Each model is trained briefly (a few epochs on a subset of the training images; 10 s to 4 minutes each on 2 cores),
from seed 0, and written as models/zoo/<name>.keras with a card models/zoo/<name>.json. Afterwards the index
models/zoo/zoo.json and the table in models/zoo/README.md are rebuilt from every card in the folder.

The zoo varies what changes how a network responds: where BatchNormalization sits (after the activation,
before it, absent), the activation (ReLU, ReLU6, LeakyReLU, ELU, swish, GELU, tanh), the head (Flatten, global
max pooling, global average pooling), MobileNet-style separable and depthwise blocks, strided convolutions instead
of pooling, a wide layer, the input range the model takes (0..1, raw 0..255 with no rescaling inside, -1..1, or
0..255 with a Rescaling layer inside), and how the model is built (Sequential with and without an Input layer,
functional, a nested sub-model). High accuracy is not the point; every model must clearly learn.

CIFAR-10 models train on a seeded subset of the training images (train/ of the zip) with random horizontal flips
and are scored on all 10,000 test images (test/), which are never trained on. MNIST models use the split of
models/train.py: mnist-10k.npz shuffled with seed 0, the last 1,500 digits held out (models/exemplars.npz).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_DETERMINISTIC_OPS"] = "1"

import numpy as np

HERE = Path(__file__).resolve().parent
# models/ for train.py and train_cifar.py; the checkout's root so that train_cifar imports this checkout's featviz.
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]
from train import load_mnist, split  # noqa: E402
from train_cifar import CLASSES, load_cifar  # noqa: E402

SEED = 0
MNIST_HOLDOUT = 1500

# How each input range is fed, and the featviz flags that tell featviz the same.
RANGES = {
    "0,1": ("pixels / 255, 0..1", []),
    "0,255": ("raw pixels 0..255, no rescaling layer inside", ["--input-range", "0,255"]),
    "-1,1": ("pixels / 127.5 - 1, -1..1", ["--input-range", "-1,1"]),
    "rescaling": ("raw pixels 0..255; a Rescaling(1/255) layer inside (featviz reads it)", []),
}


@dataclass
class Spec:
    name: str
    build: Callable  # build(keras, shape) -> keras.Model
    data: str  # "cifar" or "mnist"
    input_range: str  # a key of RANGES
    description: str
    varies: str
    split: str  # "tune" or "held_out"
    innermost: str
    middle: str
    epochs: int = 5
    train_images: int = 20000
    batch: int = 64
    lr: float = 1e-3
    notes: list[str] = field(default_factory=list)


# --- building blocks ---------------------------------------------------------------------------------------------


def _conv_act_bn(L, x, filters, name, act="relu", stride=1):
    """Conv2D -> activation -> BatchNormalization: BN after the activation, as many public CIFAR CNNs have it."""
    x = L.Conv2D(filters, 3, strides=stride, padding="same", name=f"{name}_conv")(x)
    x = L.Activation(act, name=f"{name}_{act}")(x) if isinstance(act, str) else act(name=f"{name}_act")(x)
    return L.BatchNormalization(name=f"{name}_bn")(x)


def _conv_bn_act(L, x, filters, name, act="relu", stride=1, kernel=3):
    """Conv2D (no bias) -> BatchNormalization -> activation."""
    x = L.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = L.BatchNormalization(name=f"{name}_bn")(x)
    return L.Activation(act, name=f"{name}_{act}")(x)


def _inverted_residual(L, x, expand, out, stride, name):
    """MobileNetV2 block: 1x1 expand -> BN -> ReLU6, 3x3 depthwise -> BN -> ReLU6, 1x1 project -> BN (linear);
    the input added back where the shape allows."""
    inp = x
    y = L.Conv2D(x.shape[-1] * expand, 1, use_bias=False, name=f"{name}_expand")(x)
    y = L.BatchNormalization(name=f"{name}_expand_bn")(y)
    y = L.ReLU(6.0, name=f"{name}_expand_relu6")(y)
    y = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_depthwise")(y)
    y = L.BatchNormalization(name=f"{name}_depthwise_bn")(y)
    y = L.ReLU(6.0, name=f"{name}_depthwise_relu6")(y)
    y = L.Conv2D(out, 1, use_bias=False, name=f"{name}_project")(y)
    y = L.BatchNormalization(name=f"{name}_project_bn")(y)
    if stride == 1 and inp.shape[-1] == out:
        y = L.Add(name=f"{name}_add")([inp, y])
    return y


# --- the models ---------------------------------------------------------------------------------------------------


def c10_plain_small(keras, shape):
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape, name="image"),
            L.Conv2D(32, 3, activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(64, 3, activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Conv2D(64, 3, activation="relu", name="conv3"),
            L.Flatten(name="flatten"),
            L.Dense(64, activation="relu", name="fc"),
            L.Dense(10, activation="softmax", name="predictions"),
        ],
        name="c10_plain_small",
    )


def c10_seq_raw255(keras, shape):
    """Sequential with no Input layer: built by calling it on a batch."""
    L = keras.layers
    model = keras.Sequential(
        [
            L.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(48, 3, padding="same", activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Conv2D(64, 3, padding="same", activation="relu", name="conv3"),
            L.MaxPooling2D(2, name="pool3"),
            L.Flatten(name="flatten"),
            L.Dense(10, activation="softmax", name="predictions"),
        ],
        name="c10_seq_raw255",
    )
    model(np.zeros((1, *shape), "float32"))
    return model


def c10_bn_after_gmp(keras, shape):
    """The common public CIFAR CNN: blocks of Conv2D -> ReLU -> BN, pooling and dropout, global max pooling."""
    L = keras.layers
    inp = keras.Input(shape, name="image")
    x = inp
    for i, (filters, pool) in enumerate(
        [(32, False), (32, True), (48, False), (48, True), (64, False), (64, True), (96, False)], 1
    ):
        x = _conv_act_bn(L, x, filters, f"block{i}")
        if pool:
            x = L.MaxPooling2D(2, name=f"pool{i}")(x)
            x = L.Dropout(0.2, name=f"drop{i}")(x)
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="c10_bn_after_gmp")


def c10_bn_after_flat(keras, shape):
    """The Keras-tutorial CIFAR CNN: Conv2D -> ReLU -> BN pairs, pooling, Flatten -> Dense -> Dropout."""
    L = keras.layers
    layers = [keras.Input(shape, name="image")]
    for i, filters in enumerate((32, 32, 64, 64), 1):
        layers += [
            L.Conv2D(filters, 3, padding="same", name=f"conv{i}"),
            L.ReLU(name=f"relu{i}"),
            L.BatchNormalization(name=f"bn{i}"),
        ]
        if i % 2 == 0:
            layers.append(L.MaxPooling2D(2, name=f"pool{i // 2}"))
    layers += [
        L.Flatten(name="flatten"),
        L.Dense(32, activation="relu", name="fc"),
        L.Dropout(0.3, name="dropout"),
        L.Dense(10, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(layers, name="c10_bn_after_flat")


def c10_bn_before_gap(keras, shape):
    """Conv -> BN -> ReLU throughout, strided convolutions between stages, global average pooling."""
    L = keras.layers
    inp = keras.Input(shape, name="image")
    x = _conv_bn_act(L, inp, 32, "s1a")
    x = _conv_bn_act(L, x, 32, "s1b")
    x = _conv_bn_act(L, x, 64, "s2a", stride=2)
    x = _conv_bn_act(L, x, 64, "s2b")
    x = _conv_bn_act(L, x, 96, "s3a", stride=2)
    x = _conv_bn_act(L, x, 96, "s3b")
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="c10_bn_before_gap")


def c10_mobilenet_v2(keras, shape):
    """MobileNetV2-style: a strided stem, inverted residual blocks, a final 1x1 conv -> BN -> ReLU6, GAP."""
    L = keras.layers
    inp = keras.Input(shape, name="image")
    x = L.Conv2D(16, 3, padding="same", use_bias=False, name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu6")(x)
    for i, (expand, out, stride) in enumerate(
        [(1, 16, 1), (4, 24, 2), (4, 24, 1), (4, 40, 2), (4, 40, 1), (4, 64, 2)], 1
    ):
        x = _inverted_residual(L, x, expand, out, stride, f"block{i}")
    x = L.Conv2D(160, 1, use_bias=False, name="head_conv")(x)
    x = L.BatchNormalization(name="head_bn")(x)
    x = L.ReLU(6.0, name="head_relu6")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="c10_mobilenet_v2")


def c10_separable_relu6(keras, shape):
    """MobileNetV1-style: a conv stem, then SeparableConv2D -> BN -> ReLU6 blocks, strided instead of pooled;
    a Rescaling(1/255) inside."""
    L = keras.layers
    inp = keras.Input(shape, name="image")
    x = L.Rescaling(1 / 255, name="rescale")(inp)
    x = L.Conv2D(24, 3, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu6")(x)
    for i, (filters, stride) in enumerate([(48, 1), (64, 2), (64, 1), (128, 2), (128, 1), (192, 2)], 1):
        x = L.SeparableConv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"sep{i}")(x)
        x = L.BatchNormalization(name=f"sep{i}_bn")(x)
        x = L.ReLU(6.0, name=f"sep{i}_relu6")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="c10_separable_relu6")


def c10_leaky_strided(keras, shape):
    """LeakyReLU, strided convolutions instead of pooling, no BN, Flatten head; raw 0..255 pixels in."""
    L = keras.layers
    layers = [keras.Input(shape, name="image")]
    for i, (filters, stride) in enumerate([(32, 1), (32, 2), (64, 1), (64, 2), (96, 2)], 1):
        layers += [
            L.Conv2D(filters, 3, strides=stride, padding="same", name=f"conv{i}"),
            L.LeakyReLU(0.1, name=f"leaky{i}"),
        ]
    layers += [L.Flatten(name="flatten"), L.Dense(10, activation="softmax", name="predictions")]
    return keras.Sequential(layers, name="c10_leaky_strided")


def c10_elu_gap(keras, shape):
    """ELU as the conv activation (inside the Conv2D), no BN, max pooling, global average pooling head."""
    L = keras.layers
    inp = keras.Input(shape, name="image")
    x = inp
    for i, (filters, pool) in enumerate([(32, False), (32, True), (64, False), (64, True), (128, False)], 1):
        x = L.Conv2D(filters, 3, padding="same", activation="elu", name=f"conv{i}")(x)
        if pool:
            x = L.MaxPooling2D(2, name=f"pool{i}")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="c10_elu_gap")


def c10_swish_nested(keras, shape):
    """A functional model around a nested functional sub-model `features` (Conv -> BN -> swish blocks);
    Rescaling(1/255) in the outer model, global average pooling."""
    L = keras.layers
    f_in = keras.Input((shape[0], shape[1], shape[2]), name="features_in")
    x = f_in
    for i, (filters, stride) in enumerate([(32, 1), (48, 2), (64, 1), (96, 2), (128, 1)], 1):
        x = _conv_bn_act(L, x, filters, f"b{i}", act="swish", stride=stride)
    features = keras.Model(f_in, x, name="features")
    inp = keras.Input(shape, name="image")
    x = L.Rescaling(1 / 255, name="rescale")(inp)
    x = features(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="c10_swish_nested")


def c10_tanh_flat(keras, shape):
    """tanh activations (separate layers), average pooling, no BN, Flatten -> Dense head; -1..1 input."""
    L = keras.layers
    layers = [keras.Input(shape, name="image")]
    for i, filters in enumerate((32, 64, 64), 1):
        layers += [
            L.Conv2D(filters, 3, padding="same", name=f"conv{i}"),
            L.Activation("tanh", name=f"tanh{i}"),
            L.AveragePooling2D(2, name=f"pool{i}"),
        ]
    layers += [
        L.Flatten(name="flatten"),
        L.Dense(64, activation="tanh", name="fc"),
        L.Dense(10, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(layers, name="c10_tanh_flat")


def c10_wide256(keras, shape):
    """A plain ReLU CNN whose last conv is wide: 256 maps at 8x8; global max pooling."""
    L = keras.layers
    inp = keras.Input(shape, name="image")
    x = L.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inp)
    x = L.MaxPooling2D(2, name="pool1")(x)
    x = L.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(2, name="pool2")(x)
    x = L.Conv2D(256, 3, padding="same", activation="relu", name="conv3_wide")(x)
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    x = L.Dropout(0.3, name="dropout")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="c10_wide256")


def c10_gelu_bn_before(keras, shape):
    """Conv -> BN -> GELU, max pooling, Flatten head; raw 0..255 pixels in (BN after the first conv copes)."""
    L = keras.layers
    inp = keras.Input(shape, name="image")
    x = inp
    for i, filters in enumerate((32, 64, 96), 1):
        x = _conv_bn_act(L, x, filters, f"b{i}", act="gelu")
        x = L.MaxPooling2D(2, name=f"pool{i}")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="c10_gelu_bn_before")


def mnist_plain_raw255(keras, shape):
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape, name="digit"),
            L.Conv2D(16, 3, activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(32, 3, activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(10, activation="softmax", name="predictions"),
        ],
        name="mnist_plain_raw255",
    )


def mnist_gelu_bn_after_gmp(keras, shape):
    """Conv -> GELU -> BN, strided convolutions, global max pooling."""
    L = keras.layers
    inp = keras.Input(shape, name="digit")
    x = inp
    for i, (filters, stride) in enumerate([(16, 1), (32, 2), (32, 1), (64, 2)], 1):
        x = _conv_act_bn(L, x, filters, f"block{i}", act="gelu", stride=stride)
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="mnist_gelu_bn_after_gmp")


def mnist_dw_relu6(keras, shape):
    """Depthwise-separable by hand: DepthwiseConv2D -> BN -> ReLU6 -> 1x1 Conv2D -> BN -> ReLU6; -1..1 input."""
    L = keras.layers
    inp = keras.Input(shape, name="digit")
    x = L.Conv2D(16, 3, padding="same", use_bias=False, name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu6")(x)
    for i, (filters, stride) in enumerate([(32, 2), (32, 1), (64, 2)], 1):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = L.BatchNormalization(name=f"dw{i}_bn")(x)
        x = L.ReLU(6.0, name=f"dw{i}_relu6")(x)
        x = L.Conv2D(filters, 1, use_bias=False, name=f"pw{i}")(x)
        x = L.BatchNormalization(name=f"pw{i}_bn")(x)
        x = L.ReLU(6.0, name=f"pw{i}_relu6")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="mnist_dw_relu6")


SPECS = [
    Spec("c10_plain_small", c10_plain_small, "cifar", "0,1",
         "3 Conv2D(relu) with 2 MaxPooling, Flatten -> Dense(64) -> Dense; Sequential with Input",
         "small plain CNN; ReLU inside the conv; no BN; Flatten head; 0..1 input", "tune", "conv3", "conv2"),
    Spec("c10_seq_raw255", c10_seq_raw255, "cifar", "0,255",
         "3 x (Conv2D(relu) -> MaxPooling), Flatten -> Dense; Sequential WITHOUT Input layer (built by calling it)",
         "Sequential with no Input layer; raw 0..255 input with no rescaling; no BN; Flatten head", "held_out",
         "conv3", "conv2", epochs=8, lr=5e-4),
    Spec("c10_bn_after_gmp", c10_bn_after_gmp, "cifar", "0,1",
         "7 x (Conv2D -> ReLU -> BN) at 32/32/48/48/64/64/96 maps, MaxPooling + Dropout after every 2nd, "
         "GlobalMaxPooling -> Dense; functional",
         "BN after the activation (common public model); deep-ish (7 blocks); GlobalMaxPooling head", "tune",
         "block7_relu", "block4_relu", epochs=4, train_images=15000),
    Spec("c10_bn_after_flat", c10_bn_after_flat, "cifar", "0,1",
         "4 x (Conv2D -> ReLU layer -> BN), MaxPooling after every 2nd, Flatten -> Dense(32) -> Dropout; Sequential",
         "BN after the activation, ReLU as separate layers; Flatten head (Keras-tutorial CNN)", "held_out",
         "relu4", "relu2"),
    Spec("c10_bn_before_gap", c10_bn_before_gap, "cifar", "-1,1",
         "6 x (Conv2D -> BN -> ReLU), strided convs between 3 stages (32/64/96), GlobalAveragePooling; functional",
         "BN before the activation; strided convolutions instead of pooling; GAP head; -1..1 input", "held_out",
         "s3b_relu", "s2b_relu", epochs=4, train_images=15000),
    Spec("c10_mobilenet_v2", c10_mobilenet_v2, "cifar", "-1,1",
         "MobileNetV2-style: stem, 6 inverted residual blocks (1x1 expand/BN/ReLU6, DepthwiseConv2D/BN/ReLU6, "
         "1x1 project/BN, Add), 1x1 conv 160/BN/ReLU6, GAP",
         "DepthwiseConv2D + ReLU6 (MobileNetV2 blocks, linear bottlenecks, residual adds); -1..1 input", "tune",
         "head_relu6", "block3_depthwise_relu6", epochs=4, train_images=15000, lr=2e-3),
    Spec("c10_separable_relu6", c10_separable_relu6, "cifar", "rescaling",
         "MobileNetV1-style: Rescaling(1/255), conv stem, 6 x (SeparableConv2D -> BN -> ReLU6), strided, GAP",
         "SeparableConv2D + ReLU6 with BN; strided convs; Rescaling(1/255) inside, takes 0..255", "held_out",
         "sep6_relu6", "sep3_relu6", lr=2e-3),
    Spec("c10_leaky_strided", c10_leaky_strided, "cifar", "0,255",
         "5 x (Conv2D -> LeakyReLU(0.1)), strides 1/2/1/2/2 (no pooling), Flatten -> Dense; Sequential",
         "LeakyReLU; strided convolutions instead of pooling; no BN; raw 0..255 input with no rescaling", "tune",
         "leaky5", "leaky3", lr=3e-4),
    Spec("c10_elu_gap", c10_elu_gap, "cifar", "0,1",
         "5 x Conv2D(elu), MaxPooling after the 2nd and 4th, GlobalAveragePooling -> Dense; functional",
         "ELU (inside the conv); no BN; GAP head", "held_out", "conv5", "conv3", train_images=15000),
    Spec("c10_swish_nested", c10_swish_nested, "cifar", "rescaling",
         "Rescaling(1/255), nested functional sub-model `features` of 5 x (Conv2D -> BN -> swish), GAP -> Dense",
         "nested sub-model; swish; BN before the activation; Rescaling(1/255) inside, takes 0..255", "tune",
         "features/b5_swish", "features/b3_swish", epochs=4, train_images=15000, lr=2e-3),
    Spec("c10_tanh_flat", c10_tanh_flat, "cifar", "-1,1",
         "3 x (Conv2D -> tanh -> AveragePooling), Flatten -> Dense(64, tanh) -> Dense; Sequential",
         "tanh (saturating, signed maps); average pooling; no BN; Flatten head; -1..1 input", "tune",
         "tanh3", "tanh2"),
    Spec("c10_wide256", c10_wide256, "cifar", "0,1",
         "Conv2D 32 -> pool -> Conv2D 64 -> pool -> Conv2D 256 (relu) -> GlobalMaxPooling -> Dropout -> Dense",
         "a wide layer (256 maps); GlobalMaxPooling head; no BN", "tune", "conv3_wide", "conv2"),
    Spec("c10_gelu_bn_before", c10_gelu_bn_before, "cifar", "0,255",
         "3 x (Conv2D -> BN -> GELU -> MaxPooling), Flatten -> Dense; functional",
         "GELU; BN before the activation; raw 0..255 input with no rescaling; Flatten head", "held_out",
         "b3_gelu", "b2_gelu", train_images=15000),
    Spec("mnist_plain_raw255", mnist_plain_raw255, "mnist", "0,255",
         "2 x (Conv2D(relu) -> MaxPooling), Flatten -> Dense; Sequential",
         "MNIST; small plain CNN; raw 0..255 input with no rescaling; Flatten head", "tune", "conv2", "conv1",
         epochs=8, train_images=8500, lr=5e-4),
    Spec("mnist_gelu_bn_after_gmp", mnist_gelu_bn_after_gmp, "mnist", "0,1",
         "4 x (Conv2D -> GELU -> BN), strides 1/2/1/2, GlobalMaxPooling -> Dense; functional",
         "MNIST; GELU; BN after the activation; strided convs; GlobalMaxPooling head", "held_out",
         "block4_gelu", "block2_gelu", epochs=10, train_images=8500),
    Spec("mnist_dw_relu6", mnist_dw_relu6, "mnist", "-1,1",
         "conv stem, 3 x (DepthwiseConv2D -> BN -> ReLU6 -> 1x1 Conv2D -> BN -> ReLU6), strided, GAP -> Dense",
         "MNIST; DepthwiseConv2D + ReLU6 with BN; -1..1 input; GAP head", "held_out", "pw3_relu6", "pw2_relu6",
         epochs=10, train_images=8500, lr=2e-3),
]  # fmt: skip
BY_NAME = {s.name: s for s in SPECS}


# --- data ---------------------------------------------------------------------------------------------------------


class Data:
    """The images, decoded once per run: uint8 training subset and held-out set for each dataset."""

    def __init__(self, cifar_path: str | None, mnist_path: str | None):
        self.cifar_path, self.mnist_path = cifar_path, mnist_path
        self._cache: dict = {}

    def get(self, which: str):
        if which not in self._cache:
            if which == "cifar":
                (xt, yt), (xh, yh), source = load_cifar(self.cifar_path)
                self._cache[which] = (
                    xt, yt.astype("int32"), xh, yh.astype("int32"), source,
                    ("CIFAR-10 train/ images only (a seeded subset) for training; all 10,000 test/ images held "
                     "out, never trained on"),
                )  # fmt: skip
            else:
                x, y, source = load_mnist(self.mnist_path)
                (xt, yt), (xh, yh) = split(x, y, MNIST_HOLDOUT, SEED)
                self._cache[which] = (
                    xt[..., None], yt.astype("int32"), xh[..., None], yh.astype("int32"), source,
                    (f"shuffled with seed {SEED}; the last {MNIST_HOLDOUT} digits held out (models/exemplars.npz), "
                     "never trained on; training images from the rest"),
                )  # fmt: skip
        return self._cache[which]


def scale(x: np.ndarray, input_range: str) -> np.ndarray:
    """uint8 pixels into the range the model takes."""
    x = x.astype("float32")
    if input_range == "0,1":
        return x / 255
    if input_range == "-1,1":
        return x / 127.5 - 1
    return x  # "0,255" and "rescaling": raw pixels


def batches(tf, x: np.ndarray, y: np.ndarray, batch: int, flip: bool):
    """Shuffled batches (seed 0), with a random horizontal flip per image for CIFAR (done per batch: cheap)."""
    generator = tf.random.Generator.from_seed(SEED)

    def augment(images, labels):
        keep = generator.uniform((tf.shape(images)[0], 1, 1, 1)) < 0.5
        return tf.where(keep, images, tf.reverse(images, axis=[2])), labels

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=SEED, reshuffle_each_iteration=True)
    ds = ds.batch(batch)
    return (ds.map(augment) if flip else ds).prefetch(2)


# --- training -----------------------------------------------------------------------------------------------------


def train_one(spec: Spec, data: Data, out: Path, threads: int | None) -> dict:
    import keras
    import tensorflow as tf

    xt, yt, xh, yh, source, split_text = data.get(spec.data)
    keras.utils.set_random_seed(SEED)  # per model: --only NAME gives the same model as the full run
    order = np.random.default_rng(SEED).permutation(len(xt))[: spec.train_images]
    x_train, y_train = scale(xt[order], spec.input_range), yt[order]
    x_held = scale(xh, spec.input_range)

    model = spec.build(keras, xt.shape[1:])
    names = {layer.name for layer in _all_layers(model)}
    missing = [n for n in (spec.innermost, spec.middle) if n.split("/")[-1] not in names]
    if missing:
        raise SystemExit(f"{spec.name}: no layer {missing}")
    ds = batches(tf, x_train, y_train, spec.batch, flip=spec.data == "cifar")
    steps = spec.epochs * len(ds)
    lr = keras.optimizers.schedules.CosineDecay(spec.lr, decay_steps=steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"== {spec.name}: {model.count_params():,} parameters, {spec.epochs} epochs x {len(x_train)} images",
          flush=True)  # fmt: skip
    started = time.time()
    history = model.fit(ds, epochs=spec.epochs, verbose=2, shuffle=False)  # ds is shuffled already
    seconds = time.time() - started
    predictions = model.predict(x_held, batch_size=500, verbose=0).argmax(1)
    accuracy = float((predictions == yh).mean())

    # Shipped without the optimizer's state (it would triple the file): a fresh build holding the trained weights.
    shipped = spec.build(keras, xt.shape[1:])
    shipped.set_weights(model.get_weights())
    check = shipped.predict(x_held[:500], batch_size=500, verbose=0).argmax(1)
    assert (check == predictions[:500]).all(), f"{spec.name}: the shipped copy predicts differently"
    path = out / f"{spec.name}.keras"
    shipped.save(path)
    description, flags = RANGES[spec.input_range]
    card = {
        "name": spec.name,
        "file": f"models/zoo/{spec.name}.keras",
        "description": spec.description,
        "varies": spec.varies,
        "split": spec.split,
        "data": source,
        "data_split": split_text,
        "classes": list(CLASSES) if spec.data == "cifar" else [str(d) for d in range(10)],
        "seed": SEED,
        "epochs": spec.epochs,
        "training_images": len(x_train),
        "heldout_images": len(xh),
        "batch_size": spec.batch,
        "optimizer": f"Adam lr {spec.lr}, cosine decay to 5% over the run",
        "augmentation": "random horizontal flip" if spec.data == "cifar" else "none",
        "train_seconds": round(seconds, 1),
        "heldout_accuracy": round(accuracy, 4),
        "chance_accuracy": 0.1,
        "params": int(model.count_params()),
        "file_bytes": path.stat().st_size,
        "input": f"{'x'.join(map(str, xt.shape[1:]))}, {description}",
        "input_range": spec.input_range if spec.input_range != "rescaling" else "0,255 (Rescaling inside)",
        "featviz_flags": flags,
        "dataset": "models/cifar10_exemplars.npz" if spec.data == "cifar" else "models/exemplars.npz",
        "layers": {"innermost": spec.innermost, "middle": spec.middle},
        "loss_curve": [round(float(v), 4) for v in history.history["loss"]],
        "train_accuracy_curve": [round(float(v), 4) for v in history.history["accuracy"]],
        "machine": _machine(threads),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }
    (out / f"{spec.name}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"== {spec.name}: held-out accuracy {accuracy:.4f} after {seconds:.0f} s; wrote {path}", flush=True)
    keras.backend.clear_session()
    return card


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _machine(threads: int | None) -> str:
    cpu = platform.processor() or "CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {threads or 'default'} TensorFlow threads; shared, so times are noisy"


# --- index and README ---------------------------------------------------------------------------------------------

INDEX_FIELDS = (
    "name", "file", "description", "varies", "split", "params", "heldout_accuracy", "train_seconds",
    "input_range", "featviz_flags", "dataset", "layers", "file_bytes",
)  # fmt: skip

README_HEAD = """\
# The development zoo (issue #30)

Small, varied CNNs, trained briefly, to develop and measure featviz's pattern recipe on models it was not tuned
on. Accuracy is not the point (each trains for 10 s to 4 minutes on 2 cores, a few epochs on a subset of the data); each
clearly learns. Every model has a card (`<name>.json`) with its architecture, what it varies, data, split, seed,
epochs, training images, time, held-out accuracy, the featviz flags for its input range, the natural images to
score against (`dataset`) and its innermost and middle layers. `zoo.json` indexes them all.

`split` says which models the recipe may be tuned on (`tune`) and which are kept to report on (`held_out`).

Input ranges: `0,1` models take pixels / 255; `0,255` models take raw pixels with **no** rescaling layer inside,
so featviz needs `--input-range 0,255`; `-1,1` models need `--input-range -1,1`; `0,255 (Rescaling inside)`
models hold a `Rescaling(1/255)` layer that featviz reads by itself.

`innermost` is the last layer with spatial maps that computes features, taken at the activation's output where
the activation is a layer of its own (so `block7_relu`, not the BatchNormalization after it), else the conv. It
can differ from featviz's own default layer, which may pick a BN or pooling layer after it. `middle` is one about
halfway.

CIFAR-10 models train on a seeded subset of the `train/` images of `cifar10-jpeg.zip` (random horizontal flips)
and are scored on all 10,000 `test/` images, never trained on; score patterns against
`models/cifar10_exemplars.npz`. MNIST models use `models/train.py`'s split of `mnist-10k.npz` (seed 0, the last
1,500 digits held out: `models/exemplars.npz`). All from seed 0 with `TF_DETERMINISTIC_OPS=1`; Adam with a cosine
decay; batch 64. The seed is set again before each model, so `--only NAME` rebuilds the same file.

"""

README_TAIL = """
Made with (about 28 minutes of training on 2 cores, plus loading):

```sh
python models/zoo/train_zoo.py --data ../shared/data/cifar10-jpeg.zip --mnist ../shared/data/mnist-10k.npz
python models/zoo/train_zoo.py --data ... --mnist ... --only c10_plain_small,mnist_dw_relu6   # some of them
```

Run featviz on one, e.g.:

```sh
featviz patterns models/zoo/c10_leaky_strided.keras --layer leaky5 --input-range 0,255 \\
    --dataset models/cifar10_exemplars.npz --out /tmp/zoo/c10_leaky_strided
```

Training times come from a shared 2-core machine and are noisy.

One more model sits beside the zoo, outside `zoo.json`: `c10_mobilenet_v2_224.keras`,
keras.applications' MobileNetV2 (alpha 0.35) at 224x224 px, the backbone of issue #34's
Teachable Machine export, trained on CIFAR-10 upsampled (6 epochs at 64 px, 1 at 224 px;
45.5% on 2,000 held-out test images; card `c10_mobilenet_v2_224.json`). Its patterns take
minutes per layer, so the quality table leaves it out; `benchmarks/bench_plan.py` checks the
plan's estimate on it. Made with `python models/zoo/train_224.py --data ../shared/data/cifar10-jpeg.zip`
(9 minutes).
"""


def write_index(out: Path) -> None:
    order = {s.name: i for i, s in enumerate(SPECS)}
    cards = [json.loads(p.read_text()) for p in out.glob("*.json") if p.stem in BY_NAME]
    cards.sort(key=lambda c: order.get(c["name"], len(order)))
    (out / "zoo.json").write_text(json.dumps([{k: c[k] for k in INDEX_FIELDS} for c in cards], indent=2) + "\n")
    rows = [
        (
            "| model | architecture | varies | params | accuracy | input range | featviz flags | split | "
            "innermost / middle layer | training | train time | file |"
        ),
        "| --- | --- | --- | ---: | ---: | --- | --- | --- | --- | --- | ---: | ---: |",
    ]
    for c in cards:
        flags = " ".join(c["featviz_flags"]) or "(none)"
        card = json.loads((out / f"{c['name']}.json").read_text())
        rows.append(
            f"| `{c['name']}` | {c['description']} | {c['varies']} | {c['params']:,} | "
            f"{100 * c['heldout_accuracy']:.1f}% | {c['input_range']} | `{flags}` | {c['split']} | "
            f"`{c['layers']['innermost']}` / `{c['layers']['middle']}` | "
            f"{card['epochs']} epochs x {card['training_images']:,} | {c['train_seconds']:.0f} s | "
            f"{c['file_bytes'] / 1024:.0f} KB |"
        )
    total = sum(c["file_bytes"] for c in cards)
    summary = (
        f"\n{len(cards)} models ({sum(c['split'] == 'tune' for c in cards)} tune, "
        f"{sum(c['split'] == 'held_out' for c in cards)} held out), {total / 2**20:.1f} MiB of .keras files.\n"
    )
    (out / "README.md").write_text(README_HEAD + "\n".join(rows) + "\n" + summary + README_TAIL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="CIFAR-10: zip or folder of train/<class>/*.jpg and test/<class>/*.jpg, or an npz "
                   "(default: keras.datasets.cifar10, a download)")  # fmt: skip
    p.add_argument("--mnist", help="MNIST: npz with x/y, or a folder of IDX files (default: keras.datasets.mnist)")
    p.add_argument("--only", help="comma-separated model names (default: all); " + ", ".join(BY_NAME))
    p.add_argument("--threads", type=int, help="TensorFlow intra- and inter-op threads (default: TensorFlow's)")
    p.add_argument("--out", default=str(HERE))
    p.add_argument("--index-only", action="store_true", help="only rebuild zoo.json and README.md from the cards")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.index_only:
        names = args.only.split(",") if args.only else list(BY_NAME)
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            p.error(f"unknown model(s) {unknown}; known: {', '.join(BY_NAME)}")
        if args.threads:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        data = Data(args.data, args.mnist)
        for name in names:
            train_one(BY_NAME[name], data, out, args.threads)
    write_index(out)


if __name__ == "__main__":
    main()
