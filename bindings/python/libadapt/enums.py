"""The enumerations of adapt.h, with the header's names minus their prefixes."""
import enum
import numbers


class Status(enum.IntEnum):
    """adapt_status: what every fallible C call returns."""
    OK = 0
    INVALID_ARGUMENT = -1
    SHAPE = -2
    NONFINITE = -3
    OUT_OF_MEMORY = -4
    OVERFLOW = -5
    STATE = -6
    UNSUPPORTED = -7
    IO = -8
    FORMAT = -9
    CANCELLED = -10
    INTERNAL = -11


class Backend(enum.IntEnum):
    """adapt_backend: the matrix-multiply implementation of a context."""
    DEFAULT = 0
    REFERENCE = 1
    OPENBLAS = 2
    ONEDNN = 3


class Activation(enum.IntEnum):
    RELU = 0
    GELU = 1
    IDENTITY = 2


class LayerKind(enum.IntEnum):
    """adapt_layer_kind: the layers of the sequential builder."""
    LINEAR = 0
    CONV2D = 1
    BATCHNORM2D = 2
    LAYERNORM = 3
    MAXPOOL2D = 4
    AVGPOOL2D = 5
    GLOBAL_AVGPOOL = 6
    DROPOUT = 7
    RELU = 8
    GELU = 9
    FLATTEN = 10
    RESIDUAL_BLOCK = 11
    PATCH_EMBED = 12
    TRANSFORMER_BLOCK = 13
    CLASS_TOKEN = 14
    TOKEN_LINEAR = 15
    MOE = 16
    ACM = 17
    INTERVAL_LINEAR = 18
    LOW_RANK_LINEAR = 19
    UPSAMPLE2D = 20
    CONV_TRANSPOSE2D = 21
    CONCAT = 22


class Optimizer(enum.IntEnum):
    SGD = 0
    ADAMW = 1


class Schedule(enum.IntEnum):
    CONSTANT = 0
    STEP = 1
    COSINE = 2


class ScoreKind(enum.IntEnum):
    """adapt_score_kind: how metrics read a classifier's score rows."""
    PROBABILITIES = 0
    LOGITS = 1
    ONE_VS_ALL = 2  # logits of a one-vs-all model, read as SLOVA's q (docs/slova.md)
    SUB_PROBABILITIES = 3  # rows summing to at most 1, the rest "none of the classes"


class CalibrationMethod(enum.IntEnum):
    """adapt_calibration_method: the maps a Calibrator can fit."""
    TEMPERATURE = 0
    VECTOR = 1
    HISTOGRAM = 2
    ISOTONIC = 3
    EXPONENTIAL = 4  # one-vs-all logits: (max q)^alpha (docs/slova.md)


class HeadKind(enum.IntEnum):
    """adapt_head_kind: the architectures of an early-exit head."""
    POOLED_LINEAR = 0  # pooled to a vector (any block output), one linear layer
    SDN = 1            # feature maps: a * max + (1 - a) * average pooling, one linear layer
    CLS_LINEAR = 2     # token sequences: the class token, one linear layer
    CLS_MLP = 3        # token sequences: the class token, linear, exact GELU, linear


class ExitRegime(enum.IntEnum):
    """adapt_exit_regime: how Model.train_exits trains a backbone and its heads."""
    JOINT = 0     # backbone and heads together (the exit phase only)
    DISJOINT = 1  # the backbone alone, then the heads alone on the frozen backbone
    MIXED = 2     # the backbone alone, then backbone and heads together


class ExitRule(enum.IntEnum):
    """adapt_exit_rule: when an input leaves at a head."""
    MAX_PROBABILITY = 0  # largest probability >= the head's threshold
    ENTROPY = 1          # entropy (nats) <= the head's threshold
    PATIENCE = 2         # the last `patience` exits up to it predicted the same class


class IntervalPhase(enum.IntEnum):
    """adapt_interval_phase: which parameters of interval_linear layers train."""
    CENTRES = 0
    SHIFTS = 1
    SCALES = 2


class LossKind(enum.IntEnum):
    """adapt_loss_kind: the classification loss train() minimises."""
    CROSS_ENTROPY = 0  # softmax cross-entropy
    ONE_VS_ALL = 1     # SLOVA's sigmoid per class (docs/slova.md)


class MergeMethod(enum.IntEnum):
    """adapt_merge_method: how merge_models combines task vectors (docs/transfer.md)."""
    AXIS = 0             # pooled SVD components, the largest kept per matrix
    TASK_ARITHMETIC = 1  # theta_base + scale * sum of the task vectors
    TIES = 2             # trim, elect sign, disjoint mean, times scale


class ProbeKind(enum.IntEnum):
    """adapt_probe_kind: the classifier a Probe fits on each layer (docs/probes.md)."""
    PROTOTYPES = 0  # Gaussian prototypes: class means, a shared shrunk precision
    LOGISTIC = 1    # L2-regularised logistic regression
    MLP = 2         # one hidden ReLU layer, trained by Adam


class CouplingKind(enum.IntEnum):
    """adapt_coupling_kind: how a Flow's couplings transform their half (docs/flows.md)."""
    AFFINE = 0    # RealNVP: x * exp(s) + t
    ADDITIVE = 1  # NICE: x + t


class UpsampleMode(enum.IntEnum):
    """adapt_upsample_mode: how ops.upsample2d fills the cells it adds."""
    NEAREST = 0   # interpolate(mode="nearest")
    BILINEAR = 1  # interpolate(mode="bilinear", align_corners=False)


class TuneMethod(enum.IntEnum):
    """adapt_tune_method: how low_rank_tune prepares a model (docs/transfer.md)."""
    SINGULAR_VALUES = 0  # AXIS: the pooled components' largest singular values train
    LORA = 1             # a trainable rank-r term B A on every linear layer


class ConsolidationKind(enum.IntEnum):
    """adapt_consolidation_kind: how a Consolidation weighs a model's weights."""
    EWC = 0  # the empirical Fisher information of each task
    SI = 1   # each weight's share of the loss's fall along the training path


class Routing(enum.IntEnum):
    """adapt_routing_rule: how a Mixture-of-Experts layer picks each token's experts from
    its router's predicted norms g."""
    DYNAMIC_K = 0   # g_e >= tau * max g: tau 0 runs every expert, larger tau fewer
    CUMULATIVE = 1  # the fewest largest g summing to (1 - tau) * sum g
    TOP_K = 2       # the top_k largest g


class ExitTarget(enum.IntEnum):
    """adapt_exit_target: what exit_fit aims at."""
    BUDGET = 0    # the best accuracy whose budget is <= the value
    ACCURACY = 1  # the least budget whose accuracy is >= the value


def coerce(kind, value, what):
    """`value` as a member of `kind`: a member, its name in any case, or its number.

    Anything else raises InvalidArgumentError naming the accepted spellings."""
    from .errors import InvalidArgumentError
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value.upper() in kind.__members__:
        return kind[value.upper()]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        try:
            return kind(int(value))
        except ValueError:
            pass
    names = ", ".join(name.lower() for name in kind.__members__)
    raise InvalidArgumentError(f"{what}: {value!r} is not one of {names}")


class StageInput(enum.IntEnum):
    """adapt_stage_input: what a pipeline stage runs on."""
    IMAGE = 0   # the whole image
    MASKED = 1  # the image, pixels its source labels 0 set to 0
    CROPS = 2   # one crop per component of its source's label map


class StageOutput(enum.IntEnum):
    """adapt_stage_output: what a pipeline stage gives."""
    SEGMENT = 0   # a label map
    CLASSIFY = 1  # a class
