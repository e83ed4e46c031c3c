"""Cold-start benchmark: spawn to first successful inference for the floor, kfunc and KServe.

Run ``.venv/bin/python -m scripts.bench.coldstart``; results and how to read them are in
docs/model-store.md ("Cold start").
"""
