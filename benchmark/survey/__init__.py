"""A naturalness rating study (mean opinion score), as in the paper's subjective evaluation (Fig. 12).

Three steps, each a ``gaitbench survey`` command:

- :mod:`benchmark.survey.build`: choose stimuli from anonymized datasets (balanced over methods and views), with
  hidden references (the originals) and a deliberately bad anchor; encode browser-playable clips; write
  ``survey.json`` (:mod:`benchmark.survey.definition`).
- :mod:`benchmark.survey.server`: a local web app (standard library only) where each rater, identified by a
  token, watches every clip in an order of their own and rates it 1 (Bad) .. 5 (Excellent); answers go to SQLite
  (:mod:`benchmark.survey.store`).
- :mod:`benchmark.survey.analyze`: rater screening, MOS with quartiles and a two-way bootstrap interval per
  method and view, written as tidy results rows (``results-mos.csv``).

Nothing here imports PyAV at module level: only building clips needs it.
"""

from benchmark.survey.definition import (
    ROLES,
    SCALE,
    SURVEY_FILE,
    Stimulus,
    Survey,
    load_survey,
)

__all__ = ["ROLES", "SCALE", "SURVEY_FILE", "Stimulus", "Survey", "load_survey"]
