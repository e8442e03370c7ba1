"""Adaptive Computation Modules (ACM): learners a gate runs as many of as each token needs
(docs/acm.md)."""
import ctypes as C

from . import _scalars
from ._native import lib
from ._params import new_params
from ._structs import AcmParams, adapt_model


def acm_for(model, path, learners=4, gate_width=16, learner_width=0, seed=0):
    """A freshly initialised ACM with the per-token shapes of the submodule at `path` of
    `model`, as a new Model for model.replace(path, ...) once trained. A two-layer network
    ("blocks.3.mlp") gets learners of its activation sharing its hidden units; a projection
    ("blocks.3.attn.qkv") identity learners of the FLOP-matched rank, one always running.
    learner_width 0 picks the FLOP-matched width. `model` is unchanged."""
    from .model import Model
    params = new_params(AcmParams)
    _scalars.assign(params, {"learners": learners, "gate_width": gate_width,
                             "learner_width": learner_width, "seed": seed}, "acm_for")
    raw = C.POINTER(adapt_model)()
    lib.adapt_acm_for(C.byref(raw), model._ptr(), _scalars.text(path, "path"),
                      C.byref(params))
    return Model(raw)


def acm_learner_counts(acm, ctx, x):
    """How many learners each token of x ran in `acm` (a Model of one ACM layer): int32
    shaped like x without its last axis."""
    from .moe import token_counts
    return token_counts(lib.adapt_acm_learner_counts, acm, ctx, x)


def acm_distill(acms, recordings, *, progress=None, cancel=None, **settings):
    """Phase 1: trains the learners of each acms[i] (a Model of one ACM layer, as acm_for
    makes) on recordings[i] of the submodule it stands for, all at once: every choice of
    learner count fits the recorded outputs, learner c on what the ones before it left.
    settings, progress and cancel are those of Model.train; returns the Progress of each
    epoch's last step."""
    from .distill import train_on_recordings
    return train_on_recordings(lib.adapt_acm_distill, "acm_distill", acms, recordings,
                               progress, cancel, settings)


def acm_train_gates(acms, recordings, gamma=1.2, *, progress=None, cancel=None, **settings):
    """Phase 2: trains the gate of each acms[i] on recordings[i] to predict, per token, the
    learner count after which one more learner cuts the error by less than `gamma`, by
    cross-entropy; the learners stay. Returns the Progress of each epoch's last step."""
    from .distill import train_on_recordings
    gamma = _scalars.checked_float(gamma, "gamma")

    def train_gates(models, recs, n, params):
        return lib.adapt_acm_train_gates(models, recs, n, gamma, params)

    return train_on_recordings(train_gates, "acm_train_gates", acms, recordings, progress,
                               cancel, settings)
