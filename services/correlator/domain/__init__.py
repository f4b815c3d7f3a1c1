"""The correlator's domain: trigger rules and person linkage as plain Python over plain data.

Nothing here imports Kafka or does I/O beyond reading a policy file: the stream layer routes
facts (``routing``), keeps per-key state (``state``) and calls :func:`state.evaluate` for new
alerts, which ``alerts.alert_event`` turns into contract events.
"""
