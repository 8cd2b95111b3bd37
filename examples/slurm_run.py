"""Run a gaitbench config on a Slurm cluster: dask-jobqueue submits the Dask workers as batch jobs, and the run's
stages go to them (docs/run.md, "Many cores, many machines").

    pip install dask-jobqueue
    python examples/slurm_run.py configs/paper.toml --out runs/paper --jobs 4 --gpus 1 --account myproject

Run it on the login node (or in a small job of its own) from a folder on the shared filesystem: the workers must
see the world, the config's files and the stage cache at the same paths. Each Slurm job is one worker process
with ``--cores`` cores: it runs ``--cores`` stages at once with one torch thread each, and with ``--gpus 1`` also
holds the job's GPU for the stages that train or run models (the ``GPU`` resource). A killed job's stage is given
to another worker, which resumes it; rerunning the script after a crash reuses every finished stage.
"""

from __future__ import annotations

import argparse


def main() -> int:
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    from benchmark.runner import load_run_config, plan_run
    from benchmark.runner.cluster import execute_distributed

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config")
    p.add_argument("--out", required=True, help="run directory (on the shared filesystem)")
    p.add_argument("--cache", help="stage cache (default OUT/cache; on the shared filesystem)")
    p.add_argument("--jobs", type=int, default=4, help="Slurm jobs, one Dask worker each")
    p.add_argument("--cores", type=int, default=8, help="cores per job")
    p.add_argument("--memory", default="32GB", help="memory per job")
    p.add_argument("--gpus", type=int, default=0, choices=(0, 1), help="a GPU per job (--gres=gpu:1)")
    p.add_argument("--walltime", default="12:00:00")
    p.add_argument("--queue", help="Slurm partition")
    p.add_argument("--account", help="Slurm account")
    args = p.parse_args()

    cluster = SLURMCluster(
        cores=args.cores, processes=1, memory=args.memory, walltime=args.walltime, queue=args.queue,
        account=args.account,
        job_extra_directives=["--gres=gpu:1"] if args.gpus else [],
        worker_extra_args=["--resources", "GPU=1"] if args.gpus else [],
    )
    cluster.scale(jobs=args.jobs)
    with Client(cluster) as client:
        print(f"dashboard: {client.dashboard_link}", flush=True)
        client.wait_for_workers(1)
        plan = plan_run(load_run_config(args.config), args.out, cache_dir=args.cache)
        result = execute_distributed(plan, client=client)
    cluster.close()
    return 0 if result.finished else 1


if __name__ == "__main__":
    raise SystemExit(main())
