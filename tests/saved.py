"""Model files as other Keras releases wrote them, built here from real Keras 3 models and h5py/zipfile.

Each writer takes a reference model built with this Keras and writes the
same weights in an older release's format, so a test can compare what
featviz loads with the reference, output for output.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import helpers
import numpy as np

# --- Keras 3.3 / tf.keras 2.15 .keras archives --------------------------------------------------


def rewrite_archive(source: Path, target: Path, edit) -> Path:
    """A copy of a .keras archive whose config.json has been passed through edit(config)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    return target


def walk_layers(config: dict):
    """Every layer config, at every depth of nested models."""
    for layer in config["config"]["layers"]:
        yield layer
        if isinstance(layer.get("config"), dict) and "layers" in layer["config"]:
            yield from walk_layers(layer)


def tutorial_model(batch_size=None):
    """The image-classification tutorial: nested preprocessing and augmentation Sequentials, then a small CNN."""
    k = helpers.keras()
    L = k.layers
    init = k.initializers.GlorotUniform(seed=5)
    # named, as Keras would name them in a fresh process: other tests' layers advance its name counters
    prep = k.Sequential([L.Resizing(12, 12, name="resizing"), L.Rescaling(1 / 255, name="rescaling")], name="prep")
    aug = k.Sequential(
        [L.RandomFlip("horizontal", name="random_flip"), L.RandomRotation(0.1, name="random_rotation"),
         L.RandomZoom(0.1, name="random_zoom")],
        name="augment",
    )  # fmt: skip
    return k.Sequential(
        [
            k.Input((16, 16, 3), batch_size=batch_size),
            prep,
            aug,
            L.Conv2D(4, 3, activation="relu", name="c1", kernel_initializer=init, bias_initializer="ones"),
            L.MaxPooling2D(name="pool"),
            L.Conv2D(6, 3, activation="relu", name="c2", kernel_initializer=init, bias_initializer="ones"),
            L.Dropout(0.2, name="dropout"),
            L.Flatten(name="flat"),
            L.Dense(3, name="logits", kernel_initializer=init),
        ],
        name="tutorial",
    )


def as_keras33(config: dict) -> None:
    """What Keras 3.3 wrote: RandomRotation and RandomZoom carried value_range, which Keras 3.15 refuses."""
    for layer in walk_layers(config):
        if layer["class_name"] in ("RandomRotation", "RandomZoom"):
            layer["config"]["value_range"] = [0, 255]


def as_fixed_batch(config: dict) -> None:
    """A model saved with a fixed batch size of 32 everywhere, as `Input(batch_size=32)` gives."""
    for layer in walk_layers(config):
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"][0] = 32
        if (layer.get("build_config") or {}).get("input_shape"):
            layer["build_config"]["input_shape"][0] = 32


# --- Keras 2 .h5 files ------------------------------------------------------------------------------


def _k2(class_name: str, name: str, **config) -> dict:
    return {"class_name": class_name, "config": {"name": name, "trainable": True, "dtype": "float32", **config}}


def _k2_conv(name: str, filters: int, kernel: int, **extra) -> dict:
    args = dict(filters=filters, kernel_size=[kernel, kernel], strides=[1, 1], padding="same")
    args.update(data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="linear", use_bias=False)
    return _k2("Conv2D", name, **{**args, **extra})


def _node(layer: dict, *inputs: str) -> dict:
    layer["name"] = layer["config"]["name"]
    layer["inbound_nodes"] = [[[i, 0, 0, {}] for i in inputs]] if inputs else []
    return layer


def mobilenet_like():
    """The part of a Teachable Machine export that matters: a functional net with depthwise convs, BN and ReLU6."""
    k = helpers.keras()
    L = k.layers
    inp = k.Input((16, 16, 3), name="input_1")
    x = L.Conv2D(4, 3, strides=2, padding="same", use_bias=False, name="Conv1")(inp)
    x = L.ReLU(6.0, name="Conv1_relu")(L.BatchNormalization(name="bn_Conv1")(x))
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = L.ReLU(6.0, name="dw_relu")(L.BatchNormalization(name="dw_BN")(x))
    x = L.Conv2D(6, 1, use_bias=True, name="project")(x)
    base = k.Model(inp, x, name="mobilenetish")
    features = k.Sequential([k.Input((16, 16, 3)), base, L.GlobalAveragePooling2D(name="gap")], name="sequential_1")
    head = k.Sequential(
        [
            k.Input((6,)),
            L.Dense(5, activation="relu", name="dense_Dense1"),
            L.Dense(3, activation="softmax", name="dense_Dense2"),
        ],
        name="sequential_3",
    )
    model = k.Sequential([k.Input((16, 16, 3)), features, head], name="sequential_4")
    rng = np.random.default_rng(7)
    for bn in (base.get_layer("bn_Conv1"), base.get_layer("dw_BN")):  # statistics that are not the identity
        gamma, beta, mean, var = bn.get_weights()
        bn.set_weights([gamma + rng.random(gamma.shape), beta, rng.normal(size=mean.shape), 1 + rng.random(var.shape)])
    return model


def _mobilenet_config() -> dict:
    layers = [
        _node(_k2("InputLayer", "input_1", batch_input_shape=[None, 16, 16, 3], sparse=False, ragged=False)),
        _node(_k2_conv("Conv1", 4, 3, strides=[2, 2]), "input_1"),
        _node(
            _k2("BatchNormalization", "bn_Conv1", axis=[3], momentum=0.999, epsilon=0.001, center=True, scale=True),
            "Conv1",
        ),
        _node(_k2("ReLU", "Conv1_relu", max_value=6.0, negative_slope=0.0, threshold=0.0), "bn_Conv1"),
        # Keras 2.4 wrote Conv2D's arguments into DepthwiseConv2D's config too: groups is one Keras 3 refuses.
        _node(_k2_conv("dw", 4, 3, depth_multiplier=1), "Conv1_relu"),
        _node(
            _k2("BatchNormalization", "dw_BN", axis=[3], momentum=0.999, epsilon=0.001, center=True, scale=True), "dw"
        ),
        _node(_k2("ReLU", "dw_relu", max_value=6.0, negative_slope=0.0, threshold=0.0), "dw_BN"),
        _node(_k2_conv("project", 6, 1, use_bias=True), "dw_relu"),
    ]
    layers[4]["class_name"] = "DepthwiseConv2D"
    del layers[4]["config"]["filters"]
    return {
        "class_name": "Functional",
        "config": {
            "name": "mobilenetish",
            "layers": layers,
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["project", 0, 0]],
        },
    }


def write_teachable_machine(path: Path, model, *, tf215: bool = False) -> None:
    """keras_model.h5 as Teachable Machine exports it (Keras 2.4): Sequential > Sequential > Functional.

    With tf215, the nested layers carry the module paths that tf.keras 2.15 wrote into an .h5, such as
    keras.src.engine.functional, which no longer exists.
    """
    inner_input = _k2(
        "InputLayer", "sequential_1_input", batch_input_shape=[None, 16, 16, 3], sparse=False, ragged=False
    )
    features = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential_1",
            "layers": [
                inner_input,
                _mobilenet_config(),
                _k2("GlobalAveragePooling2D", "gap", data_format="channels_last"),
            ],
        },
    }
    dense = lambda name, units, act: _k2("Dense", name, units=units, activation=act, use_bias=True)
    head = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential_3",
            "layers": [dense("dense_Dense1", 5, "relu"), dense("dense_Dense2", 3, "softmax")],
        },
    }
    head["config"]["layers"][0]["config"]["batch_input_shape"] = [None, 6]
    config = {
        "class_name": "Sequential",
        "config": {"name": "sequential_4", "layers": [features, head]},
        "keras_version": "2.4.0",
        "backend": "tensorflow",
    }
    if tf215:
        for layer in _nested(config):
            functional = layer["class_name"] == "Functional"
            layer["module"] = "keras.src.engine.functional" if functional else "keras.layers"
            layer["registered_name"] = "Functional" if functional else None
    features_model, head_model = model.layers
    groups = {"sequential_1": _keras2_order(features_model), "sequential_3": _keras2_order(head_model)}
    _write_h5(path, config, groups)


def _nested(config: dict):
    """The layers inside the top-level Sequential's sub-models, at every depth."""
    for sub in config["config"]["layers"]:
        yield from walk_layers(sub)


def _keras2_order(model) -> list[tuple[str, np.ndarray]]:
    """A nested model's weights as Keras 2 listed them: every trainable weight first, then the rest."""
    trainable, rest = [], []
    for layer in _leaves(model):
        for w, value in zip(layer.weights, layer.get_weights()):
            name = KERAS2_NAMES.get((type(layer).__name__, w.name), w.name)
            (trainable if w.trainable else rest).append((f"{layer.name}/{name}:0", value))
    return trainable + rest


KERAS2_NAMES = {("DepthwiseConv2D", "kernel"): "depthwise_kernel"}


def _leaves(model) -> list:
    k = helpers.keras()
    out = []
    for layer in model.layers:
        out.extend(_leaves(layer) if isinstance(layer, k.Model) else [layer])
    return out


def _write_h5(
    path: Path, config: dict, groups: dict[str, list[tuple[str, np.ndarray]]], with_config: bool = True
) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.4.0"
        f.attrs["backend"] = b"tensorflow"
        if with_config:
            f.attrs["model_config"] = json.dumps(config).encode()
        root = f.create_group("model_weights") if with_config else f
        root.attrs["layer_names"] = np.array([n.encode() for n in groups])
        for name, weights in groups.items():
            group = root.create_group(name)
            group.attrs["weight_names"] = np.array([w.encode() for w, _ in weights])
            for wname, value in weights:
                group.create_dataset(wname, data=value)


def separable_residual():
    """A Keras 2.0 style functional model: SeparableConv2D beside a 1x1 conv, summed by Add."""
    k = helpers.keras()
    L = k.layers
    inp = k.Input((12, 12, 3), name="input_1")
    a = L.SeparableConv2D(4, 3, padding="same", activation="relu", name="sep")(inp)
    b = L.Conv2D(4, 1, name="proj")(inp)
    out = L.Dense(2, name="logits")(L.GlobalAveragePooling2D(name="gap")(L.Add(name="sum")([a, b])))
    return k.Model(inp, out, name="model_1")


def write_keras20_functional(path: Path, model, *, weights_only: bool = False) -> dict:
    """The model as standalone Keras 2.0 saved it: class "Model", list-wrapped endpoints. Returns the config."""
    layers = [
        _node(_k2("InputLayer", "input_1", batch_input_shape=[None, 12, 12, 3], sparse=False)),
        _node(
            _k2(
                "SeparableConv2D",
                "sep",
                filters=4,
                kernel_size=[3, 3],
                strides=[1, 1],
                padding="same",
                data_format="channels_last",
                depth_multiplier=1,
                activation="relu",
                use_bias=True,
            ),
            "input_1",
        ),  # fmt: skip
        _node(_k2_conv("proj", 4, 1, padding="valid", use_bias=True), "input_1"),
        _node(_k2("Add", "sum"), "sep", "proj"),
        _node(_k2("GlobalAveragePooling2D", "gap", data_format="channels_last"), "sum"),
        _node(_k2("Dense", "logits", units=2, activation="linear", use_bias=True), "gap"),
    ]
    del layers[2]["config"]["groups"]  # Keras 2.0 predates groups
    config = {
        "class_name": "Model",
        "config": {
            "name": "model_1",
            "layers": layers,
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["logits", 0, 0]],
        },
        "keras_version": "2.0.8",
        "backend": "tensorflow",
    }
    names = {
        "sep": ["depthwise_kernel", "pointwise_kernel", "bias"],
        "proj": ["kernel", "bias"],
        "logits": ["kernel", "bias"],
    }
    groups = {
        n: [(f"{n}/{w}:0", v) for w, v in zip(names.get(n, []), model.get_layer(n).get_weights())]
        for n in ("input_1", "sep", "proj", "sum", "gap", "logits")
    }
    _write_h5(path, config, groups, with_config=not weights_only)
    return config


def write_list_style_sequential(path: Path, model3) -> None:
    """Standalone Keras 2.0 to 2.2: a Sequential's config is the list of its layers."""
    import keras2

    keras2.write_sequential(path, model3, keras_version="2.1.6")
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(
            {"class_name": "Sequential", "config": config["config"]["layers"]}
        ).encode()
