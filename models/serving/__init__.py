"""Serving the risk model on NVIDIA Triton: model repository, server process, client, statistics.

`repository` writes `claims_risk` (config.pbtxt + one directory per version, a
Python-backend `model.py` running onnxruntime); `server` starts the tritonserver
binary of the nvidia-pytriton wheel and moves versions (`swap_champion`, `retire`);
`client` scores encoded claims with retries, a circuit breaker and the version
that answered; `statistics` turns Triton's counters into compute time and cost.
No import-time side effects; nothing here imports dagster.
"""
