"""Traffic simulator: CPA-like worlds and click streams, replayed identically to the
service's samplers and to baselines, scored by efficiency on expected revenue per click.

``cpa-bandit simulate`` is the command; :func:`runner.simulate` the entry point in Python.
"""
