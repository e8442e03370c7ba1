"""ctypes mirrors of the structs and callback types in adapt.h.

Field order and types follow the header exactly; tests/test_abi.py compiles a C program that
prints sizeof and offsetof of each one and compares them with these.
"""
import ctypes as C

MAX_DIMS = 8  # ADAPT_MAX_DIMS


class _Opaque(C.Structure):
    _fields_ = []


class adapt_context(_Opaque):
    pass


class adapt_tensor(_Opaque):
    pass


class adapt_model(_Opaque):
    pass


class adapt_dataset(_Opaque):
    pass


class adapt_calibrator(_Opaque):
    pass


class adapt_consolidation(_Opaque):
    pass


class adapt_probe(_Opaque):
    pass


class adapt_router(_Opaque):
    pass


class adapt_flow(_Opaque):
    pass


class adapt_pipeline(_Opaque):
    pass


class adapt_pipeline_result(_Opaque):
    pass


class adapt_head(_Opaque):
    pass


class ContextParams(C.Structure):
    c_name = "adapt_context_params"
    init_function = "adapt_context_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("n_threads", C.c_int32), ("backend", C.c_int32),
                ("seed", C.c_uint64), ("arena_initial_bytes", C.c_size_t),
                ("arena_limit_bytes", C.c_size_t)]


class MlpParams(C.Structure):
    c_name = "adapt_mlp_params"
    init_function = "adapt_mlp_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("n_sizes", C.c_int32),
                ("sizes", C.POINTER(C.c_int64)), ("activation", C.c_int32),
                ("dropout", C.c_float), ("seed", C.c_uint64)]


class CnnParams(C.Structure):
    c_name = "adapt_cnn_params"
    init_function = "adapt_cnn_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("in_channels", C.c_int32),
                ("image_size", C.c_int32), ("n_classes", C.c_int32),
                ("stem_channels", C.c_int32), ("n_stages", C.c_int32),
                ("stage_channels", C.POINTER(C.c_int32)),
                ("stage_blocks", C.POINTER(C.c_int32)),
                ("stage_strides", C.POINTER(C.c_int32)), ("seed", C.c_uint64)]


class VitParams(C.Structure):
    c_name = "adapt_vit_params"
    init_function = "adapt_vit_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("image_size", C.c_int32),
                ("in_channels", C.c_int32), ("patch", C.c_int32), ("dim", C.c_int32),
                ("depth", C.c_int32), ("heads", C.c_int32), ("mlp_ratio", C.c_float),
                ("n_classes", C.c_int32), ("dropout", C.c_float), ("seed", C.c_uint64)]


class LayerParams(C.Structure):
    c_name = "adapt_layer_params"
    init_function = "adapt_layer_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("kind", C.c_int32),
                ("out_features", C.c_int64), ("kernel", C.c_int32), ("stride", C.c_int32),
                ("padding", C.c_int32), ("heads", C.c_int32), ("mlp_ratio", C.c_float),
                ("p", C.c_float), ("experts", C.c_int32), ("router_width", C.c_int32),
                ("expert_width", C.c_int64), ("activation", C.c_int32),
                ("routing", C.c_int32), ("tau", C.c_float), ("top_k", C.c_int32),
                ("learners", C.c_int32), ("learner_width", C.c_int64),
                ("gate_width", C.c_int32), ("min_learners", C.c_int32), ("rank", C.c_int64),
                ("scale", C.c_int32), ("upsample", C.c_int32), ("source", C.c_int32)]


class MoeParams(C.Structure):
    c_name = "adapt_moe_params"
    init_function = "adapt_moe_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("experts", C.c_int32),
                ("router_width", C.c_int32), ("iterations", C.c_int32), ("seed", C.c_uint64)]


class AcmParams(C.Structure):
    c_name = "adapt_acm_params"
    init_function = "adapt_acm_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("learners", C.c_int32),
                ("gate_width", C.c_int32), ("learner_width", C.c_int64), ("seed", C.c_uint64)]


class BlockInfo(C.Structure):
    c_name = "adapt_block_info"
    _fields_ = [("struct_size", C.c_size_t), ("kind", C.c_int32), ("out_ndim", C.c_int32),
                ("out_shape", C.c_int64 * MAX_DIMS), ("flops", C.c_int64),
                ("n_params", C.c_int64)]


class Progress(C.Structure):
    c_name = "adapt_progress"
    _fields_ = [("epoch", C.c_int32), ("epochs", C.c_int32), ("step", C.c_int64),
                ("steps", C.c_int64), ("loss", C.c_float), ("learning_rate", C.c_float),
                ("samples_per_second", C.c_double), ("eta_seconds", C.c_double),
                ("val_accuracy", C.c_float)]


progress_fn = C.CFUNCTYPE(None, C.POINTER(Progress), C.c_void_p)
cancel_fn = C.CFUNCTYPE(C.c_int, C.c_void_p)


class TrainParams(C.Structure):
    c_name = "adapt_train_params"
    init_function = "adapt_train_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("epochs", C.c_int32),
                ("batch_size", C.c_int32), ("optimizer", C.c_int32),
                ("learning_rate", C.c_float), ("momentum", C.c_float), ("nesterov", C.c_int32),
                ("weight_decay", C.c_float), ("beta1", C.c_float), ("beta2", C.c_float),
                ("adam_eps", C.c_float), ("schedule", C.c_int32), ("warmup_steps", C.c_int32),
                ("step_epochs", C.c_int32), ("step_gamma", C.c_float),
                ("min_learning_rate", C.c_float), ("grad_clip_norm", C.c_float),
                ("label_smoothing", C.c_float), ("seed", C.c_uint64), ("n_threads", C.c_int32),
                ("progress", progress_fn), ("cancel", cancel_fn), ("user_data", C.c_void_p),
                ("drop_last", C.c_int32), ("recompute_blocks", C.c_int32),
                ("sparsity_penalty", C.c_float), ("sparsity_warmup", C.c_float),
                ("acm_budget", C.c_float), ("acm_budget_weight", C.c_float),
                ("acm_entropy_weight", C.c_float), ("acm_diversity_weight", C.c_float),
                ("ibp_epsilon", C.c_float), ("ibp_kappa", C.c_float),
                ("ibp_ramp_start", C.c_float), ("ibp_ramp_end", C.c_float),
                ("ibp_input_min", C.c_float), ("ibp_input_max", C.c_float),
                ("interval_tau", C.c_float), ("consolidation", C.c_void_p),
                ("consolidation_weight", C.c_float), ("loss", C.c_int32)]


class EvalResult(C.Structure):
    c_name = "adapt_eval_result"
    _fields_ = [("struct_size", C.c_size_t), ("accuracy", C.c_double), ("loss", C.c_double),
                ("count", C.c_int64)]


class CertifyResult(C.Structure):
    c_name = "adapt_certify_result"
    _fields_ = [("struct_size", C.c_size_t), ("accuracy", C.c_double),
                ("certified_accuracy", C.c_double), ("count", C.c_int64)]


class MetricsReport(C.Structure):
    c_name = "adapt_metrics_report"
    _fields_ = [("struct_size", C.c_size_t), ("accuracy", C.c_double), ("ece", C.c_double),
                ("ks_error", C.c_double), ("nll", C.c_double), ("brier", C.c_double),
                ("auroc", C.c_double), ("aurc", C.c_double), ("eaurc", C.c_double),
                ("fpr_at_95_tpr", C.c_double)]


class CalibratorParams(C.Structure):
    c_name = "adapt_calibrator_params"
    init_function = "adapt_calibrator_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("method", C.c_int32), ("bins", C.c_int32),
                ("max_iterations", C.c_int32), ("tolerance", C.c_double)]


class HeadParams(C.Structure):
    c_name = "adapt_head_params"
    init_function = "adapt_head_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("kind", C.c_int32), ("block", C.c_int32),
                ("hidden", C.c_int32), ("cascade", C.c_int32), ("seed", C.c_uint64)]


class HeadInfo(C.Structure):
    c_name = "adapt_head_info"
    _fields_ = [("struct_size", C.c_size_t), ("kind", C.c_int32), ("block", C.c_int32),
                ("hidden", C.c_int32), ("cascade", C.c_int32), ("classes", C.c_int32),
                ("flops", C.c_int64), ("n_params", C.c_int64)]


class ExitTrainParams(C.Structure):
    c_name = "adapt_exit_train_params"
    init_function = "adapt_exit_train_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("regime", C.c_int32),
                ("backbone_phase", C.POINTER(TrainParams)),
                ("exit_phase", C.POINTER(TrainParams)), ("proportional_weights", C.c_int32),
                ("distillation", C.c_float), ("distillation_temperature", C.c_float)]


class ExitPolicy(C.Structure):
    c_name = "adapt_exit_policy"
    init_function = "adapt_exit_policy_init"
    _fields_ = [("struct_size", C.c_size_t), ("rule", C.c_int32), ("threshold", C.c_float),
                ("head_thresholds", C.POINTER(C.c_float)), ("patience", C.c_int32),
                ("calibrators", C.POINTER(C.POINTER(adapt_calibrator))), ("scores", C.c_int32)]


class ExitOutputs(C.Structure):
    c_name = "adapt_exit_outputs"
    _fields_ = [("struct_size", C.c_size_t), ("predictions", C.POINTER(C.c_int32)),
                ("exits", C.POINTER(C.c_int32)), ("confidences", C.POINTER(C.c_float)),
                ("flops", C.POINTER(C.c_int64))]


class ExitRecords(C.Structure):
    c_name = "adapt_exit_records"
    _fields_ = [("struct_size", C.c_size_t), ("scores", C.POINTER(C.c_float)),
                ("kind", C.c_int32), ("labels", C.POINTER(C.c_int32)), ("n", C.c_int64),
                ("exits", C.c_int32), ("classes", C.c_int32),
                ("exit_flops", C.POINTER(C.c_int64)), ("reference_flops", C.c_int64)]


class ExitOutcome(C.Structure):
    c_name = "adapt_exit_outcome"
    _fields_ = [("struct_size", C.c_size_t), ("accuracy", C.c_double),
                ("mean_flops", C.c_double), ("budget", C.c_double)]


class ExitCurve(C.Structure):
    c_name = "adapt_exit_curve"
    _fields_ = [("struct_size", C.c_size_t), ("accuracy_at_budget", C.c_double * 4),
                ("area", C.c_double), ("min_budget", C.c_double), ("max_budget", C.c_double)]


class SubmoduleInfo(C.Structure):
    c_name = "adapt_submodule_info"
    _fields_ = [("struct_size", C.c_size_t), ("in_ndim", C.c_int32),
                ("in_shape", C.c_int64 * MAX_DIMS), ("out_ndim", C.c_int32),
                ("out_shape", C.c_int64 * MAX_DIMS), ("flops", C.c_int64),
                ("replaced", C.c_int32)]


class RecordParams(C.Structure):
    c_name = "adapt_record_params"
    init_function = "adapt_record_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("batch_size", C.c_int32),
                ("n_threads", C.c_int32), ("spool_prefix", C.c_char_p)]


class adapt_recording(_Opaque):
    pass


#: Every struct of the header, for the size and layout test.
class MergeParams(C.Structure):
    c_name = "adapt_merge_params"
    init_function = "adapt_merge_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("method", C.c_int32),
                ("keep_fraction", C.c_float), ("scale", C.c_float), ("density", C.c_float)]


class TuneParams(C.Structure):
    c_name = "adapt_tune_params"
    init_function = "adapt_tune_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("method", C.c_int32),
                ("keep_fraction", C.c_float), ("trainable_fraction", C.c_float),
                ("zero_init", C.c_int32), ("keep_pooled_basis", C.c_int32),
                ("rank", C.c_int64), ("alpha", C.c_float), ("seed", C.c_uint64)]


class ProbeParams(C.Structure):
    c_name = "adapt_probe_params"
    init_function = "adapt_probe_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("kind", C.c_int32), ("hidden", C.c_int32),
                ("epochs", C.c_int32), ("max_iterations", C.c_int32), ("l2", C.c_double),
                ("l1", C.c_double), ("tolerance", C.c_double), ("learning_rate", C.c_double),
                ("seed", C.c_uint64), ("n_threads", C.c_int32)]


class RouterParams(C.Structure):
    c_name = "adapt_router_params"
    init_function = "adapt_router_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("n_blocks", C.c_int32),
                ("blocks", C.POINTER(C.c_int32)), ("shared_blocks", C.c_int32)]


class RouteOutputs(C.Structure):
    c_name = "adapt_route_outputs"
    _fields_ = [("struct_size", C.c_size_t), ("logits", C.POINTER(C.c_float)),
                ("scores", C.POINTER(C.c_float)), ("routed", C.POINTER(C.c_int32)),
                ("flops", C.POINTER(C.c_int64))]


class FlowParams(C.Structure):
    c_name = "adapt_flow_params"
    init_function = "adapt_flow_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("dim", C.c_int64), ("cond_dim", C.c_int64),
                ("couplings", C.c_int32), ("coupling", C.c_int32), ("hidden", C.c_int64),
                ("blocks", C.c_int32), ("batch_norm", C.c_int32), ("seed", C.c_uint64)]


class FlowPrior(C.Structure):
    c_name = "adapt_flow_prior"
    init_function = "adapt_flow_prior_init"
    _fields_ = [("struct_size", C.c_size_t), ("attributes", C.c_int32), ("sigma", C.c_float),
                ("sigma_decay", C.c_float), ("identity_weight", C.c_float),
                ("identity_warmup", C.c_int32)]


class SegmentationScore(C.Structure):
    c_name = "adapt_segmentation_score"
    _fields_ = [("struct_size", C.c_size_t), ("mean_iou", C.c_double),
                ("pixel_accuracy", C.c_double), ("pixels", C.c_int64),
                ("classes_seen", C.c_int32)]


class StageParams(C.Structure):
    c_name = "adapt_stage_params"
    init_function = "adapt_stage_params_init"
    _fields_ = [("struct_size", C.c_size_t), ("name", C.c_char_p), ("input", C.c_int32),
                ("output", C.c_int32), ("source", C.c_char_p), ("margin", C.c_int32),
                ("min_pixels", C.c_int32)]


class PipelineCrop(C.Structure):
    c_name = "adapt_pipeline_crop"
    _fields_ = [("struct_size", C.c_size_t), ("row0", C.c_int64), ("col0", C.c_int64),
                ("row1", C.c_int64), ("col1", C.c_int64), ("pixels", C.c_int64),
                ("label", C.c_int32), ("class_id", C.c_int32)]


class StageReport(C.Structure):
    c_name = "adapt_stage_report"
    _fields_ = [("struct_size", C.c_size_t), ("seconds", C.c_double), ("flops", C.c_int64),
                ("inputs", C.c_int64)]


ALL = (ContextParams, MlpParams, CnnParams, VitParams, LayerParams, BlockInfo, Progress,
       TrainParams, EvalResult, MetricsReport, CalibratorParams, HeadParams, HeadInfo,
       ExitTrainParams, ExitPolicy, ExitOutputs, ExitRecords, ExitOutcome, ExitCurve,
       SubmoduleInfo, RecordParams, MoeParams, AcmParams, CertifyResult, MergeParams,
       TuneParams, ProbeParams, RouterParams, RouteOutputs, FlowParams,
       FlowPrior, SegmentationScore, StageParams, PipelineCrop, StageReport)
