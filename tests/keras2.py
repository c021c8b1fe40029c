"""Write .h5 files the way standalone Keras 2 / tf.keras 2 wrote them, with h5py only."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np


def _init(name: str) -> dict:
    return {"class_name": name, "config": {"seed": None}}


def _weights(activation: str) -> dict:
    """The arguments Keras 2 saved for every layer with a kernel and a bias."""
    return {
        "activation": activation,
        "use_bias": True,
        "kernel_initializer": _init("GlorotUniform"),
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }


def conv(name: str, filters: int, first_shape=None, groups: int | None = 1) -> dict:
    config = {
        "name": name,
        "trainable": True,
        "dtype": "float32",
        "filters": filters,
        "kernel_size": [3, 3],
        "strides": [1, 1],
        "padding": "valid",
        "data_format": "channels_last",
        "dilation_rate": [1, 1],
        **_weights("relu"),
    }
    if groups is not None:
        config["groups"] = groups
    if first_shape is not None:
        config["batch_input_shape"] = [None, *first_shape]
    return {"class_name": "Conv2D", "config": config}


def pool(name: str) -> dict:
    return {
        "class_name": "MaxPooling2D",
        "config": {
            "name": name,
            "trainable": True,
            "dtype": "float32",
            "pool_size": [2, 2],
            "padding": "valid",
            "strides": [2, 2],
            "data_format": "channels_last",
        },
    }


def flatten(name: str) -> dict:
    return {
        "class_name": "Flatten",
        "config": {"name": name, "trainable": True, "dtype": "float32", "data_format": "channels_last"},
    }


def dense(name: str, units: int) -> dict:
    return {
        "class_name": "Dense",
        "config": {
            "name": name,
            "trainable": True,
            "dtype": "float32",
            "units": units,
            **_weights("softmax"),
        },
    }


def write_sequential(
    path: Path,
    model3,
    *,
    shape=(12, 12, 1),
    input_layer: bool = False,
    slash_names: bool = False,
    keras_version: str = "2.4.0",
) -> list[str]:
    """Save the weights of the tiny CNN (helpers.tiny_cnn) as a Keras 2 Sequential .h5.

    The first layer carries batch_input_shape, as Keras 2 saved it. With
    input_layer, an InputLayer with batch_input_shape comes first instead (tf.keras 2.x).
    With slash_names, layer names contain '/', which Keras 3 refuses.
    Returns the layer names used.
    """
    names = (
        ["block/conv_a", "block/pool", "block/conv_b", "flatten", "dense"]
        if slash_names
        else ["conv2d", "max_pooling2d", "conv2d_1", "flatten", "dense"]
    )
    layers = [
        conv(names[0], 4, None if input_layer else shape),
        pool(names[1]),
        conv(names[2], 6),
        flatten(names[3]),
        dense(names[4], 3),
    ]
    if input_layer:
        layers.insert(
            0,
            {
                "class_name": "InputLayer",
                "config": {
                    "batch_input_shape": [None, *shape],
                    "dtype": "float32",
                    "sparse": False,
                    "ragged": False,
                    "name": "conv2d_input",
                },
            },
        )
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    weights = {
        names[0]: model3.get_layer("c1").get_weights(),
        names[2]: model3.get_layer("c2").get_weights(),
        names[4]: model3.get_layer("out").get_weights(),
    }
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version.encode()
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([n.encode() for n in names])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = keras_version.encode()
        for name in names:
            layer_group = group.create_group(name)
            arrays = weights.get(name, [])
            weight_names = [f"{name}/kernel:0", f"{name}/bias:0"][: len(arrays)]
            layer_group.attrs["weight_names"] = np.array([w.encode() for w in weight_names])
            for wname, arr in zip(weight_names, arrays):
                layer_group.create_dataset(wname, data=arr)
    return names
