"""MLflow's REST API on ``griffin server``: existing MLflow code logs to, registers in and
loads from Griffin by setting ``MLFLOW_TRACKING_URI`` to the server's address.

Experiments, runs, metrics and artifacts are Griffin's own (visible in ``griffin runs``), and
a model registered through MLflow is a Griffin model version with lineage to its run. See
``docs/mlflow.md`` for what is supported. :func:`griffin.integrations.mlflow.app.mount_mlflow`
adds the API to an app.
"""
