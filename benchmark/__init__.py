"""gaitbench: an evaluation benchmark suite for gait anonymization.

The harness lives here (data model, readers, contour pipeline, colourisation, protocol, evaluation);
anonymizers are in ``baselines``, gait recognizers in ``recognizers``, tables and figures in ``reports``.
"""

__version__ = "0.1.0"
