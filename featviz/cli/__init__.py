"""The featviz command line: each command parses its options, makes one API call and prints what the result says.

TensorFlow is imported inside the commands, never at module level, so that
`featviz --help` answers at once.
"""

from .analysis_commands import atlas, invert
from .app import main
from .model_commands import activations, check, layers
from .pattern_commands import accentuate, patterns, trust
from .report_commands import compare, gallery

for _command in (layers, activations, patterns, gallery, compare, atlas, invert, check, trust, accentuate):
    main.add_command(_command)

__all__ = ["main"]
