"""The click path: everything between a click's request and its durable answer.

Every click of every traffic partner goes through here, so this is where the time of a
request is spent, and saved:

* ``front`` — the ASGI layer in front of the FastAPI app: it serves ``/sample/``,
  ``/feedback/`` and the postbacks itself, and applies limits, request ids, metrics and
  the access log to every request;
* ``decisions`` — the use cases on every click (choose an offer and record it, take a
  click's feedback), each split into a choice and a write;
* ``counters`` — the learning statistics a worker keeps in memory between reads;
* ``group_commit`` — one writer per worker that commits the writes of concurrent requests
  together, answering each after its batch is durable.
"""
