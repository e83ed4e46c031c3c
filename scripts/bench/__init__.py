"""Load benchmark: kfunc against KServe's ModelServer on the same model, driven by ``wrk``.

Run it with ``scripts/bench/run.sh`` (or ``.venv/bin/python -m scripts.bench.load``); see
docs/benchmarks.md. Workloads (model + request bodies) live in ``workloads.py``, servers to
compare in ``targets.py``: add an entry to either registry to benchmark something new.
"""
