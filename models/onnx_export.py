"""Export the risk model to ONNX for Triton, and prove the export scores like the original.

The served contract (what a Triton client sends and reads):

- input  `features`: float32 [batch, width], the output of
  `models.risk.encode_features` (width 36 with the default vocabularies);
  NaN marks a missing numeric value, as in training.
- output `probabilities`: float32 [batch, 2], column 1 is P(high_risk).

The ONNX metadata carries the encoding (`claimflow.encoding`, JSON, and its
`claimflow.encoding_digest`), so a client can check it encodes the way the
model was trained before it sends anything. Only the calibrated classifier
is in the graph; the encoding stays in numpy, shared by client and training.

What converts faithfully with skl2onnx: HistGradientBoosting (NaN routing and
monotonic constraints are plain tree structure) and sigmoid calibration.
Isotonic calibration does not: skl2onnx looks up the nearest calibration point
where scikit-learn interpolates linearly, and scores drift by up to ~0.02, so
`to_onnx` refuses isotonic models.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import onnx
import pandas as pd
from sklearn.pipeline import Pipeline

from models.risk import FeatureEncoding, predict_proba

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
POSITIVE_COLUMN = 1
# Opset 17 with ai.onnx.ml 1 (TreeEnsembleClassifier v1) loads on onnxruntime
# 1.13 and later, so older Triton images serve it too.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 1}
METADATA_ENCODING = "claimflow.encoding"
METADATA_DIGEST = "claimflow.encoding_digest"
DEFAULT_ATOL = 1e-4


class ParityError(ValueError):
    """The ONNX model and the scikit-learn model disagree beyond the tolerance."""


def _parts(model: Pipeline) -> tuple[FeatureEncoding, object]:
    try:
        encoding = model.named_steps["encode"].encoding
        classifier = model.named_steps["classifier"]
    except (AttributeError, KeyError):
        raise TypeError("expected a pipeline from models.risk.build_pipeline (steps 'encode', 'classifier')") from None
    if classifier.method != "sigmoid":
        raise NotImplementedError(
            f"{classifier.method!r} calibration does not convert to ONNX faithfully "
            "(skl2onnx uses a nearest-point lookup); train with calibration='sigmoid'"
        )
    if not hasattr(classifier, "calibrated_classifiers_"):
        raise ValueError("the model is not fitted")
    return encoding, classifier


def _tree_thresholds(booster: object) -> np.ndarray:
    """Split thresholds of every node in the order skl2onnx writes them (0.0 at leaves)."""
    values = []
    for iteration in booster._predictors:
        if len(iteration) != 1:
            raise NotImplementedError("only binary HistGradientBoosting models are exported")
        nodes = iteration[0].nodes
        values.append(np.where(nodes["is_leaf"].astype(bool), 0.0, nodes["num_threshold"]))
    return np.concatenate(values)


def _round_thresholds_down(onnx_model: onnx.ModelProto, classifier: object) -> int:
    """Make float32 splits decide exactly as scikit-learn's float64 ones; returns splits changed.

    scikit-learn routes `x <= t` with t in float64; skl2onnx stores t rounded to
    the nearest float32, which can sit just above t, so an input equal to it
    would go left in ONNX and right in scikit-learn. For float32 inputs the
    largest float32 not above t decides identically for every x.
    """
    boosters = [c.estimator for c in classifier.calibrated_classifiers_]
    expected = [_tree_thresholds(b) for b in boosters]
    ensembles = [n for n in onnx_model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(ensembles) != len(boosters):
        raise ParityError(f"{len(ensembles)} tree ensembles in the ONNX graph for {len(boosters)} fitted boosters")
    changed = 0
    for node, thresholds in zip(ensembles, expected, strict=True):
        attribute = next(a for a in node.attribute if a.name == "nodes_values")
        stored = np.asarray(attribute.floats, dtype=np.float32)
        if stored.shape != thresholds.shape or not np.array_equal(stored, thresholds.astype(np.float32)):
            raise ParityError(f"ONNX tree ensemble {node.name!r} does not match its fitted booster")
        above = stored.astype(np.float64) > thresholds
        stored[above] = np.nextafter(stored[above], np.float32(-np.inf))
        del attribute.floats[:]
        attribute.floats.extend(stored.tolist())
        changed += int(above.sum())
    return changed


def _keep_only_output(onnx_model: onnx.ModelProto, name: str) -> None:
    """Drop every graph output but `name` (the 0.5 argmax `label` would invite the wrong threshold)."""
    keep = [o for o in onnx_model.graph.output if o.name == name]
    del onnx_model.graph.output[:]
    onnx_model.graph.output.extend(keep)
    needed = {name}
    kept_nodes = []
    for node in reversed(onnx_model.graph.node):
        if needed.intersection(node.output):
            kept_nodes.append(node)
            needed.update(node.input)
    del onnx_model.graph.node[:]
    onnx_model.graph.node.extend(reversed(kept_nodes))
    used = {i for node in kept_nodes for i in node.input}
    initializers = [t for t in onnx_model.graph.initializer if t.name in used]
    del onnx_model.graph.initializer[:]
    onnx_model.graph.initializer.extend(initializers)


def to_onnx(
    model: Pipeline,
    sample: pd.DataFrame,
    *,
    atol: float = DEFAULT_ATOL,
    metadata: Mapping[str, str] | None = None,
) -> bytes:
    """Serialized ONNX model of the fitted pipeline's classifier, checked for parity on `sample`.

    `sample` (a few hundred real claims, NaN included) must score within `atol`
    of scikit-learn, or `ParityError` is raised and nothing is returned.
    `metadata` (model version, dataset digest, review threshold...) is stored
    in metadata_props beside the encoding. The two halves, `convert_to_onnx`
    then `check_parity`, let a caller store the bytes while the check runs.
    """
    payload = convert_to_onnx(model, metadata=metadata)
    check_parity(model, payload, sample, atol=atol)
    return payload


def convert_to_onnx(model: Pipeline, *, metadata: Mapping[str, str] | None = None) -> bytes:
    """The serialized ONNX model, not yet checked for parity: only `check_parity` makes it servable."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    encoding, classifier = _parts(model)
    onnx_model = convert_sklearn(
        classifier,
        initial_types=[(INPUT_NAME, FloatTensorType([None, encoding.width]))],
        options={id(classifier): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    _keep_only_output(onnx_model, OUTPUT_NAME)
    _round_thresholds_down(onnx_model, classifier)
    onnx_model.producer_name = "claimflow"
    onnx_model.graph.name = "claimflow_risk"  # not skl2onnx's random uuid: same model, same artifact digest
    onnx_model.doc_string = (
        f"Claim risk model. Input {INPUT_NAME}: float32 [batch, {encoding.width}] from "
        f"models.risk.encode_features. Output {OUTPUT_NAME}: float32 [batch, 2], column "
        f"{POSITIVE_COLUMN} = P(high_risk)."
    )
    props = {str(k): str(v) for k, v in (metadata or {}).items()}
    props |= {METADATA_ENCODING: encoding.to_json(), METADATA_DIGEST: encoding.digest}
    onnx.helper.set_model_props(onnx_model, props)
    onnx.checker.check_model(onnx_model)
    return onnx_model.SerializeToString()


def onnx_metadata(onnx_bytes: bytes) -> dict[str, str]:
    """The model's metadata_props as a dict."""
    return {p.key: p.value for p in onnx.load_from_string(onnx_bytes).metadata_props}


def encoding_from_onnx(onnx_bytes: bytes) -> FeatureEncoding:
    """The feature encoding the ONNX model was trained with, read from its metadata."""
    metadata = onnx_metadata(onnx_bytes)
    if METADATA_ENCODING not in metadata:
        raise ValueError(f"ONNX model has no {METADATA_ENCODING!r} metadata; was it exported by models.onnx_export?")
    return FeatureEncoding.from_json(metadata[METADATA_ENCODING])


@lru_cache(maxsize=4)
def _session(onnx_bytes: bytes) -> tuple[object, FeatureEncoding]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # batch scoring in-process; Triton sets its own threads
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    return session, encoding_from_onnx(onnx_bytes)


def onnx_predict(onnx_bytes: bytes, frame: pd.DataFrame) -> np.ndarray:
    """P(high_risk) per row from the ONNX model under onnxruntime, encoded as the metadata says; float64 [rows]."""
    session, encoding = _session(onnx_bytes)
    if len(frame) == 0:
        return np.zeros(0, dtype=np.float64)
    (probabilities,) = session.run([OUTPUT_NAME], {INPUT_NAME: encoding.encode(frame)})
    return probabilities[:, POSITIVE_COLUMN].astype(np.float64)


def check_parity(model: Pipeline, onnx_bytes: bytes, frame: pd.DataFrame, atol: float = DEFAULT_ATOL) -> float:
    """Max |P_sklearn - P_onnx| over `frame`; raises `ParityError` above `atol` or on any non-finite score."""
    if len(frame) == 0:
        raise ValueError("parity needs at least one row")
    expected = predict_proba(model, frame)
    actual = onnx_predict(onnx_bytes, frame)
    if not (np.isfinite(expected).all() and np.isfinite(actual).all()):
        raise ParityError("non-finite scores in the parity check")
    diff = float(np.max(np.abs(expected - actual)))
    if diff > atol:
        worst = int(np.argmax(np.abs(expected - actual)))
        raise ParityError(
            f"ONNX differs from scikit-learn by {diff:.3g} (> {atol:g}) on row {worst}: "
            f"{expected[worst]:.6f} vs {actual[worst]:.6f}"
        )
    return diff
