"""The module a plug-in author imports: the base of each plug-in kind and the types they read and return.

::

    from benchmark.api import Anonymizer, GaitSequence

    class Mirror(Anonymizer):
        ...

Everything here is defined elsewhere in the core (this module only gathers it): the bases
(:class:`Anonymizer`, :class:`Recognizer`, :class:`Scorer`, all :class:`Plugin`), the data types
(:class:`GaitSequence`; :class:`Sequences`, :class:`InputSpec` and :class:`Embedding` for recognizers;
:class:`SequenceScore` for scorers), what training reads (:class:`TrainSource`, :class:`FitOptions`, the shared
loop :func:`train` with :class:`TrainSettings`), checkpoint helpers for torch modules, and the errors a plug-in
raises. Bundled plug-ins import from here too.
"""

from benchmark.anonymizer import Anonymizer, sequence_seed
from benchmark.checkpoints import CheckpointError, load_module_arrays, module_arrays
from benchmark.config import ConfigError
from benchmark.plugin import Plugin
from benchmark.recognizer import Recognizer
from benchmark.results import format_parameters
from benchmark.scorers.base import MissingWeightsError, Scorer, SequenceScore, find_weights
from benchmark.sequences import Embedding, InputSpec, Sequences
from benchmark.training import FitOptions, TrainSettings, TrainSource, derive_seed, select_device, train
from benchmark.types import GaitSequence

__all__ = [
    "Anonymizer",
    "CheckpointError",
    "ConfigError",
    "Embedding",
    "FitOptions",
    "GaitSequence",
    "InputSpec",
    "MissingWeightsError",
    "Plugin",
    "Recognizer",
    "Scorer",
    "SequenceScore",
    "Sequences",
    "TrainSettings",
    "TrainSource",
    "derive_seed",
    "find_weights",
    "format_parameters",
    "load_module_arrays",
    "module_arrays",
    "select_device",
    "sequence_seed",
    "train",
]
