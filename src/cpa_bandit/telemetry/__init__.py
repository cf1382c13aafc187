"""What the service tells its operators about itself: Prometheus metrics and JSON logs.

The submodules are imported one by one on purpose: ``multiprocess`` and ``logs`` must not
import ``prometheus_client``, which decides between single- and multi-process mode when it
is first imported (``cpa-bandit serve`` sets that mode up before any worker imports it).
"""
