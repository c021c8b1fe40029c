"""A plain keras.Model from a model's input to any of its layers."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import FeatvizError, first_line
from ..runtime import _tf
from .graph import run_graph
from .layers import input_shape


def extractor(model, layer_names: Sequence[str], *, with_output: bool = False, canvas: tuple | None = None):
    """A keras.Model from the input to the named layers (and the model output).

    `canvas` (height, width) builds it for another input size; it fails with
    a clear error when a layer before the named ones needs the original
    size. (A keras.Model replays its layers as they are, so it cannot give a
    softmax layer's logits: run_graph with graph.logits_of does.)
    """
    keras = _tf.keras()
    native = input_shape(model)
    inp = keras.Input(native if canvas is None else (*canvas, native[-1]))
    try:
        out, taps = run_graph(model, inp, want=set(layer_names), stop=not with_output)
    except FeatvizError:
        raise
    except Exception as e:
        if canvas is None:
            raise
        raise FeatvizError(f"the layers before {layer_names[0]!r} need a {native[:2]} input: {first_line(e)}") from None
    outputs = [taps[name] for name in layer_names] + ([out] if with_output else [])
    return keras.Model(inp, outputs)
