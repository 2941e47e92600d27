"""scikit-learn and Keras Tuner entry points for Keras models.

``KerasClassifier`` and ``KerasRegressor`` are scikeras 0.13 wrappers with these fixes,
which scikit-learn's own estimator checks hold them to (tests/test_wrappers.py):

* scikit-learn >= 1.6 reads estimator types from ``__sklearn_tags__``. scikeras lists
  ``ClassifierMixin`` after ``BaseEstimator`` and never defines the tags, so
  ``is_classifier`` is silently False and searches lose stratified folds. The tags are
  declared here, in this one adapter.
* ``random_state`` seeds Keras itself (``keras.utils.set_random_seed``, and the default seeds
  of the model's layers, whatever other threads draw), so fits are reproducible under every
  backend, not only TensorFlow.
* every fresh fit clears the Keras session, so memory stays flat over many fits.
* every fit is prepared by ``prepare_fit`` (32 steps per compiled call under JAX) and gets its
  callbacks beside the ``callbacks`` parameter, which fit leaves as it was.
* input is validated as scikit-learn estimators do it: a missing ``y`` or a ``predict`` input
  with another number of features is refused with scikit-learn's messages, and a
  column-vector ``y`` is flattened with its ``DataConversionWarning``.
* predictions go in batches of ``PREDICT_BATCH_SIZE`` (or a routed ``predict__batch_size``),
  not the fit's ``batch_size``.

The last three reach scikeras' private hooks through ``tuning.compat.scikeras``.

``make_estimator`` binds them to a builder such as ``tuning.models.build_model``;
``SpaceHyperModel`` gives Keras Tuner the same builder and the same ``Space``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import Any

import keras
import keras_tuner
import numpy as np
from scikeras import wrappers as scikeras_wrappers
from sklearn.utils import ClassifierTags, RegressorTags
from sklearn.utils.validation import column_or_1d, validate_data

from tuning.compat.keras import seeds_of_its_own
from tuning.compat.scikeras import ScikerasHooks
from tuning.models import build_model
from tuning.phases import CLOCK
from tuning.space import Space, to_keras_tuner, to_keras_tuner_grid
from tuning.training import FIT_PARAMS, PREDICT_BATCH_SIZE, fresh_keras_state, prepare_fit

__all__ = [
    "FIT_PARAMS",
    "KerasClassifier",
    "KerasRegressor",
    "build_from_meta",
    "SpaceHyperModel",
    "estimator_param_name",
    "make_estimator",
]


def estimator_param_name(name: str) -> str:
    """The scikeras parameter that routes ``name`` to its destination (``fit`` or the builder)."""
    return name if name in FIT_PARAMS else f"model__{name}"


def _integer_seed(random_state: int | np.random.RandomState | None) -> int | None:
    if isinstance(random_state, np.random.RandomState):
        # Draw from a copy, as scikeras does, so the caller's generator is not advanced.
        copy = np.random.RandomState()
        copy.set_state(random_state.get_state())
        return int(copy.randint(2**31 - 1))
    return None if random_state is None else int(random_state)


class _Fixes(ScikerasHooks):
    """What both wrappers add to scikeras (see the module docstring)."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Any:
        with CLOCK.phase("reset"):
            if not (self.warm_start and self.initialized_):
                fresh_keras_state()
            seed = _integer_seed(self.random_state)
            if seed is not None:
                keras.utils.set_random_seed(seed)
        # The model is built inside scikeras' fit: its default seeds come from the random state.
        seeds = contextlib.nullcontext() if seed is None else seeds_of_its_own(seed)
        with CLOCK.phase("train"), seeds:
            return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def check_input(self, X: Any, y: Any, *, reset: bool) -> tuple[Any, Any]:
        if reset and y is None:
            # scikeras' regressor would fail on None.dtype; this is scikit-learn's wording.
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if X is not None:
            # scikit-learn's shape checks and messages first (a 1-d X, another number of features),
            # which also record feature names; scikeras' check that follows converts dtypes and refuses NaN.
            validate_data(self, X, reset=reset, accept_sparse=True, allow_nd=True, dtype=None, ensure_all_finite=False)
        if y is not None and np.asarray(y).shape[1:] == (1,):
            # The tags declare one output, so a column vector is flattened with scikit-learn's warning.
            y = column_or_1d(y, warn=True)
        return X, y

    def extra_fit_callbacks(self) -> list[Any]:
        return prepare_fit(self.model_)

    def predict_batch_size(self) -> int:
        # scikeras would use the fit's batch_size.
        return getattr(self, "predict__batch_size", PREDICT_BATCH_SIZE)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        classifier = isinstance(self, scikeras_wrappers.KerasClassifier)
        tags.estimator_type = "classifier" if classifier else "regressor"
        if classifier:
            tags.classifier_tags = ClassifierTags(poor_score=True)
        else:
            tags.regressor_tags = RegressorTags(poor_score=True)
        tags.target_tags.required = True
        # scikeras hands SciPy sparse X to Keras, which trains on it.
        tags.input_tags.sparse = True
        tags.non_deterministic = self.random_state is None
        return tags


class KerasClassifier(_Fixes, scikeras_wrappers.KerasClassifier):
    """scikeras' ``KerasClassifier``, recognised by scikit-learn >= 1.6 as a classifier."""


class KerasRegressor(_Fixes, scikeras_wrappers.KerasRegressor):
    """scikeras' ``KerasRegressor``, recognised by scikit-learn >= 1.6 as a regressor."""


def build_from_meta(
    meta: Mapping[str, Any],
    compile_kwargs: Any = None,
    params: Any = None,
    *,
    build: Callable[..., keras.Model] = build_model,
    **hyperparameters: Any,
) -> keras.Model:
    """Adapts a builder taking ``input_shape``/``n_classes`` to scikeras' ``meta`` argument.

    ``input_shape`` is one sample's shape. scikeras accepts only functions and
    ``functools.partial`` objects as ``model``; bind another builder with
    ``functools.partial(build_from_meta, build=my_builder)``.
    """
    input_shape = tuple(int(d) for d in meta["X_shape_"][1:])
    with CLOCK.phase("build"):
        return build(input_shape=input_shape, n_classes=meta.get("n_classes_"), **hyperparameters)


def make_estimator(
    classification: bool,
    *,
    build: Callable[..., keras.Model] = build_model,
    random_state: int | None = None,
    classes: tuple[type, type] = (KerasClassifier, KerasRegressor),
    **hyperparameters: Any,
) -> KerasClassifier | KerasRegressor:
    """An estimator whose ``hyperparameters`` (builder or fit level) are settable by name.

    ``classes`` are the (classifier, regressor) classes to instantiate, for subclasses.

    >>> est = make_estimator(True, units_1=64, batch_size=128, epochs=5, random_state=0)
    >>> est.get_params()["model__units_1"]
    64
    """
    cls = classes[0] if classification else classes[1]
    routed = {estimator_param_name(k): v for k, v in hyperparameters.items()}
    return cls(
        model=functools.partial(build_from_meta, build=build),
        random_state=random_state,
        verbose=0,
        **routed,
    )


class SpaceHyperModel(keras_tuner.HyperModel):
    """A Keras Tuner ``HyperModel`` over a ``Space``, using the same builder as the estimators.

    ``fixed`` holds values that are not searched (builder or fit level); ``grid_points``
    declares the space as the discrete grid of ``tuning.space.to_sklearn_grid``. Fit-level values
    (``batch_size``, ``epochs``) reach ``Model.fit`` through ``HyperModel.fit``; epochs
    that a tuner passes itself (Hyperband) take precedence.
    """

    def __init__(
        self,
        space: Space,
        *,
        input_shape: tuple[int, ...],
        n_classes: int | None,
        fixed: Mapping[str, Any] | None = None,
        build: Callable[..., keras.Model] = build_model,
        seed: int | None = None,
        grid_points: int | None = None,
    ) -> None:
        super().__init__()
        self.space = space
        self.grid_points = grid_points
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.fixed = dict(fixed or {})
        self.build_fn = build
        self.seed = seed

    def declare_hyperparameters(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """The space as ``hp`` calls: ranges, or with ``grid_points`` the discrete grid ``GridSearch`` needs."""
        if self.grid_points is not None:
            return to_keras_tuner_grid(self.space, self.grid_points, hp)
        return to_keras_tuner(self.space, hp)

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        values = {**self.fixed, **self.declare_hyperparameters(hp)}
        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        model_values = {k: v for k, v in values.items() if k not in FIT_PARAMS}
        return self.build_fn(input_shape=self.input_shape, n_classes=self.n_classes, **model_values)

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        values = {**self.fixed, **{k: v for k, v in hp.values.items() if k in self.space.names}}
        for name in FIT_PARAMS & values.keys():
            kwargs.setdefault(name, values[name])
        kwargs.setdefault("verbose", 0)
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *prepare_fit(model)]
        return model.fit(*args, **kwargs)
