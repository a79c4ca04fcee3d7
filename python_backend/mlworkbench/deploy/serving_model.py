"""The one model a server answers with: loaded once through pyfunc, and its two ways to predict.

The pyfunc path hands the checked request to MLflow's own scoring function
(`mlflow.pyfunc.scoring_server.invocations`), so parsing, schema enforcement, the model call and
the `{"predictions": ...}` body are exactly what `mlflow models serve` answers. It costs a pandas
DataFrame and MLflow's schema enforcement per request (milliseconds for one row).

The fast path skips both, for the case where that provably changes nothing: a scikit-learn
model served by MLflow's sklearn wrapper with `predict`, whose signature is plain numeric
columns or one 2-D numeric tensor, and whose estimator is one of scikit-learn's own numeric
estimators (or a Pipeline of them). Such an estimator's `predict` starts with
`validate_data(X)`, which turns MLflow's DataFrame (the signature's columns, in its order, cast
to its dtypes) into the array `np.array(rows, dtype=np.result_type(*dtypes))` built here from
the same JSON values, and then uses only that array. Anything else (a ColumnTransformer, a
FunctionTransformer, a meta-estimator holding arbitrary estimators, a custom class) stays on the
pyfunc path. At start the two paths are also compared on a few rows; a difference turns the
fast path off (logged), so a wrong proof costs speed, never a wrong answer.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlworkbench.deploy.serving_inputs import (
    DF_SPLIT,
    INPUTS,
    PARAMS,
    InputRules,
    RequestRejected,
    bad_request,
    rules_from_schema,
)

if TYPE_CHECKING:
    import numpy as np

    from mlworkbench.deploy.model_source import ModelSource

LOG = logging.getLogger("mlworkbench.serve")
CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_CSV = "text/csv"
# scikit-learn's own estimators whose predict uses only validate_data's array (see above).
_NUMERIC_MODULES = (
    "sklearn.linear_model.",
    "sklearn.tree.",
    "sklearn.ensemble.",
    "sklearn.svm.",
    "sklearn.neighbors.",
    "sklearn.naive_bayes.",
    "sklearn.discriminant_analysis.",
    "sklearn.preprocessing._data.",
)
_PIPELINE = "sklearn.pipeline.Pipeline"
# MLflow's message for an exception inside the model (scoring_server.invocations).
MODEL_ERROR = (
    "Encountered an unexpected error while evaluating the model. Verify that the serialized "
    "input Dataframe is compatible with the model for inference."
)
_FEATURE_NAMES_WARNING = "X does not have valid feature names"


@dataclass
class ServedModel:
    source: ModelSource
    pyfunc: Any  # mlflow.pyfunc.PyFuncModel (typed by MLflow only in part)
    rules: InputRules | None  # None: no signature (or one MLflow alone checks)
    fast: FastPredictor | None
    run_id: str | None
    model_id: str | None
    has_signature: bool

    def predict_json(self, payload: dict[str, Any], rows: list[list[Any]] | None) -> bytes:
        """The response body for a checked JSON payload; `RequestRejected` for a bad input."""
        if self.fast is not None and rows is not None and PARAMS not in payload:
            return self.fast.predict(rows)
        return self._mlflow_invocations(payload, CONTENT_TYPE_JSON)

    def predict_csv(self, text: str) -> bytes:
        return self._mlflow_invocations(text, CONTENT_TYPE_CSV)

    def _mlflow_invocations(self, data: Any, content_type: str) -> bytes:
        from mlflow.exceptions import MlflowException
        from mlflow.pyfunc import scoring_server

        invocations: Any = scoring_server.invocations
        try:
            result = invocations(
                data, content_type, self.pyfunc, self.pyfunc.metadata.get_input_schema()
            )
        except MlflowException as exception:
            # MLflow's shape and status, without the stack trace it would send: that goes to
            # the log, not to whoever sent the request.
            error: Any = exception
            if getattr(error, "stack_trace", None):
                LOG.debug("prediction failed:\n%s", error.stack_trace)
            raise RequestRejected(
                int(error.get_http_status_code()), str(error.error_code), str(error.message)
            ) from None
        if result.status != 200:
            raise RequestRejected(result.status, "BAD_REQUEST", str(result.response))
        return str(result.response).encode()


class FastPredictor:
    """The estimator called on one numpy array built from the checked JSON rows."""

    def __init__(self, estimator: Any, dtype: np.dtype[Any]) -> None:
        self.estimator = estimator
        self.dtype = dtype

    def predict(self, rows: list[list[Any]]) -> bytes:
        import numpy as np
        from mlflow.utils.proto_json_utils import NumpyEncoder

        try:
            values = np.array(rows, dtype=self.dtype)
            predictions = self.estimator.predict(values)
        except Exception:  # the model's own code: MLflow answers any failure with a 400
            LOG.debug("prediction failed", exc_info=True)
            raise bad_request(MODEL_ERROR) from None
        return json.dumps({"predictions": predictions.tolist()}, cls=NumpyEncoder).encode()


def serve_model(source: ModelSource, *, fast_path: bool = True) -> ServedModel:
    """Load `source` once (`ModelLoadError` when it cannot be) and pick its predict paths."""
    from mlworkbench.deploy.model_source import load_pyfunc

    pyfunc = load_pyfunc(source)
    metadata = pyfunc.metadata
    schema = metadata.get_input_schema()
    if schema is None:
        LOG.warning(
            "model %s has no signature: requests are not checked before the model sees them "
            "(missing or extra columns reach it as they are); log it with "
            "signature=infer_signature(X, y) to have them checked",
            source.uri,
        )
    rules = rules_from_schema(schema)
    fast = _fast_predictor(pyfunc, rules) if fast_path and rules is not None else None
    served = ServedModel(
        source=source,
        pyfunc=pyfunc,
        rules=rules,
        fast=fast,
        run_id=getattr(metadata, "run_id", None) or source.run_id,
        model_id=getattr(metadata, "model_id", None),
        has_signature=schema is not None,
    )
    if fast is not None and not _paths_agree(served):
        LOG.warning("the fast path disagreed with pyfunc on a check; every request uses pyfunc")
        served.fast = None
    return served


def _fast_predictor(pyfunc: Any, rules: InputRules) -> FastPredictor | None:
    import numpy as np

    flavor = pyfunc.metadata.flavors.get("python_function", {})
    if flavor.get("loader_module") != "mlflow.sklearn":
        return None
    if flavor.get("predict_fn", "predict") != "predict":
        return None
    if pyfunc.metadata.get_params_schema() is not None:
        return None
    try:
        estimator = pyfunc.get_raw_model()
    except NotImplementedError:
        return None
    if not _numeric_estimator(estimator):
        return None
    if rules.tensor_width is not None:
        spec_type = pyfunc.metadata.get_input_schema().inputs[0].type
        if rules.tensor_kind not in ("float", "int"):
            return None
        return FastPredictor(estimator, np.dtype(spec_type))
    if not rules.columns or any(
        column.kind not in ("float", "int") or not column.required for column in rules.columns
    ):
        return None
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None:
        if [str(name) for name in fitted_names] != rules.names:
            return None
        # The array has no column names, which scikit-learn warns about on every call; the
        # names were just checked equal to the signature's, in order. Only in this process.
        warnings.filterwarnings(
            "ignore", message=_FEATURE_NAMES_WARNING, category=UserWarning, module="sklearn"
        )
    dtypes = [
        np.dtype(f"{'f' if column.kind == 'float' else 'i'}{column.bits // 8}")
        for column in rules.columns
    ]
    return FastPredictor(estimator, np.result_type(*dtypes))


def _numeric_estimator(estimator: Any) -> bool:
    """One of scikit-learn's own numeric estimators (or a Pipeline of them) holding no other
    estimator among its parameters: a meta-estimator could hold anything."""
    cls = type(estimator)
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    if qualified == _PIPELINE:
        steps = getattr(estimator, "steps", [])
        return bool(steps) and all(
            step in (None, "passthrough") or _numeric_estimator(step) for _, step in steps
        )
    if not qualified.startswith(_NUMERIC_MODULES):
        return False
    try:
        params = estimator.get_params(deep=False)
    except Exception:
        return False
    return not any(hasattr(value, "fit") for value in params.values())


def _paths_agree(served: ServedModel) -> bool:
    """Both paths on a few rows (zeros, ones, a ramp) give the same body."""
    rules = served.rules
    assert rules is not None and served.fast is not None
    width = rules.tensor_width or len(rules.columns)
    kinds = [rules.tensor_kind] * width if rules.tensor_width else [c.kind for c in rules.columns]
    ramp = [(index % 7) - 3 for index in range(width)]
    rows = [
        [0.5 * value if kind == "float" else value for value, kind in zip(row, kinds, strict=True)]
        for row in ([0] * width, [1] * width, ramp)
    ]
    if rules.tensor_width:
        payload: dict[str, Any] = {INPUTS: rows}
    else:
        payload = {DF_SPLIT: {"columns": rules.names, "data": rows}}
    try:
        fast = served.fast.predict(rows)
    except RequestRejected:
        fast = b"failed"
    try:
        slow = served._mlflow_invocations(payload, CONTENT_TYPE_JSON)
    except RequestRejected:
        slow = b"failed"
    return fast == slow
