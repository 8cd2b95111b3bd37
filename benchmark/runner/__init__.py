"""``gaitbench run``: the whole protocol from one config file, every artifact cached by the content that made it.

- :mod:`benchmark.runner.config`: the run config (TOML -> frozen dataclasses; method tables checked against
  the methods' own config classes).
- :mod:`benchmark.runner.cache`: content keys, stage folders, completion markers, locks.
- :mod:`benchmark.runner.stages`: what each stage does (library calls) and the order of the stages.
- :mod:`benchmark.runner.pictures`: the paper's Figs. 8, 9, 17 and 18 from the anonymized data.
- :mod:`benchmark.runner.execute`: executing a plan and writing the run directory.

Heavy modules (torch, the synthetic world) are imported by the stages that need them.
"""

from benchmark.runner.config import RunConfig, load_run_config, resolve
from benchmark.runner.execute import Plan, RunResult, StageResult, execute, plan_run

__all__ = ["Plan", "RunConfig", "RunResult", "StageResult", "execute", "load_run_config", "plan_run", "resolve"]
