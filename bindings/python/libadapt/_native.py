"""The loaded library with every adapt.h function declared (argtypes and restype).

Functions that return an adapt_status get an errcheck that turns a non-OK status into the
matching AdaptError subclass, reading adapt_last_error() on the same thread right away, so
no caller can forget to check.
"""
import ctypes as C

from . import _library
from ._structs import (AcmParams, BlockInfo, CalibratorParams, CertifyResult, CnnParams,
                       ContextParams, EvalResult, ExitCurve, ExitOutcome, ExitOutputs,
                       ExitPolicy, ExitRecords, ExitTrainParams, FlowParams, FlowPrior,
                       HeadInfo, HeadParams, LayerParams, MergeParams, MetricsReport,
                       MlpParams, MoeParams, PipelineCrop, ProbeParams, RecordParams,
                       RouteOutputs, RouterParams, SegmentationScore, StageParams, StageReport,
                       SubmoduleInfo, TrainParams, TuneParams, VitParams, adapt_calibrator,
                       adapt_consolidation, adapt_context, adapt_dataset, adapt_flow,
                       adapt_head, adapt_model, adapt_pipeline, adapt_pipeline_result,
                       adapt_probe, adapt_recording, adapt_router, adapt_tensor)
from .errors import UnsupportedError, error_for_status

lib, path = _library.load()
version = _library.check_version(lib, path)

STATUS = object()  # marks functions returning adapt_status

P = C.POINTER
CTX, TENSOR, MODEL, DATASET = P(adapt_context), P(adapt_tensor), P(adapt_model), P(adapt_dataset)
CALIBRATOR, HEAD, RECORDING = P(adapt_calibrator), P(adapt_head), P(adapt_recording)
CONSOLIDATION, PROBE, ROUTER = P(adapt_consolidation), P(adapt_probe), P(adapt_router)
FLOW = P(adapt_flow)
PIPELINE, PIPELINE_RESULT = P(adapt_pipeline), P(adapt_pipeline_result)
F32P, I32P, I64P, F64P = P(C.c_float), P(C.c_int32), P(C.c_int64), P(C.c_double)
i32, i64, u32, u64, f32 = C.c_int32, C.c_int64, C.c_uint32, C.c_uint64, C.c_float
UNARY = (STATUS, [P(TENSOR), CTX, TENSOR])
BINARY = (STATUS, [P(TENSOR), CTX, TENSOR, TENSOR])
POOL = (STATUS, [P(TENSOR), CTX, TENSOR, i32, i32, i32])
REDUCE = (STATUS, [P(TENSOR), CTX, TENSOR, i32])

SIGNATURES = {
    "adapt_version_number": (C.c_uint, []),
    "adapt_version_string": (C.c_char_p, []),
    "adapt_status_string": (C.c_char_p, [C.c_int]),
    "adapt_last_error": (C.c_char_p, []),
    # contexts
    "adapt_backend_available": (C.c_int, [C.c_int]),
    "adapt_context_params_init": (None, [P(ContextParams), C.c_size_t]),
    "adapt_context_create": (STATUS, [P(CTX), P(ContextParams)]),
    "adapt_context_free": (None, [CTX]),
    "adapt_context_reset": (None, [CTX]),
    "adapt_context_set_grad": (STATUS, [CTX, C.c_int]),
    "adapt_context_set_training": (STATUS, [CTX, C.c_int]),
    "adapt_context_set_backend": (STATUS, [CTX, C.c_int]),
    "adapt_context_set_recompute": (STATUS, [CTX, C.c_int]),
    "adapt_context_set_threads": (STATUS, [CTX, i32]),
    "adapt_context_peak_bytes": (C.c_size_t, [CTX]),
    "adapt_context_reserved_bytes": (C.c_size_t, [CTX]),
    # tensors
    "adapt_param_create": (STATUS, [P(TENSOR), i32, I64P]),
    "adapt_tensor_free": (None, [TENSOR]),
    "adapt_param_set_requires_grad": (STATUS, [TENSOR, C.c_int]),
    "adapt_tensor_input": (STATUS, [P(TENSOR), CTX, i32, I64P, F32P]),
    "adapt_tensor_ndim": (i32, [TENSOR]),
    "adapt_tensor_dim": (i64, [TENSOR, i32]),
    "adapt_tensor_numel": (i64, [TENSOR]),
    "adapt_tensor_data": (F32P, [TENSOR]),
    "adapt_tensor_grad": (F32P, [TENSOR]),
    "adapt_tensor_read": (STATUS, [TENSOR, F32P, i64]),
    "adapt_param_write": (STATUS, [TENSOR, F32P, i64]),
    "adapt_param_zero_grad": (STATUS, [TENSOR]),
    # operations
    "adapt_op_matmul": (STATUS, [P(TENSOR), CTX, TENSOR, TENSOR, u32]),
    "adapt_op_add": BINARY, "adapt_op_mul": BINARY,
    "adapt_op_minimum": BINARY, "adapt_op_maximum": BINARY,
    "adapt_op_scale": (STATUS, [P(TENSOR), CTX, TENSOR, f32]),
    "adapt_op_relu": UNARY, "adapt_op_gelu": UNARY, "adapt_op_sigmoid": UNARY,
    "adapt_op_tanh": UNARY, "adapt_op_abs": UNARY,
    "adapt_op_clamp": (STATUS, [P(TENSOR), CTX, TENSOR, f32, f32]),
    "adapt_op_softmax": UNARY, "adapt_op_log_softmax": UNARY,
    "adapt_op_layernorm": (STATUS, [P(TENSOR), CTX, TENSOR, TENSOR, TENSOR, f32]),
    "adapt_op_batchnorm": (STATUS, [P(TENSOR), CTX, TENSOR, TENSOR, TENSOR, TENSOR, TENSOR,
                                    f32, f32]),
    "adapt_op_conv2d": (STATUS, [P(TENSOR), CTX, TENSOR, TENSOR, TENSOR, i32, i32]),
    "adapt_op_maxpool2d": POOL, "adapt_op_avgpool2d": POOL,
    "adapt_op_upsample2d": (STATUS, [P(TENSOR), CTX, TENSOR, i32, i32]),
    "adapt_op_conv_transpose2d": (STATUS, [P(TENSOR), CTX, TENSOR, TENSOR, TENSOR, i32, i32]),
    "adapt_op_reshape": (STATUS, [P(TENSOR), CTX, TENSOR, i32, I64P]),
    "adapt_op_transpose": (STATUS, [P(TENSOR), CTX, TENSOR, i32, i32]),
    "adapt_op_permute": (STATUS, [P(TENSOR), CTX, TENSOR, I32P]),
    "adapt_op_slice": (STATUS, [P(TENSOR), CTX, TENSOR, i32, i64, i64]),
    "adapt_op_concat": (STATUS, [P(TENSOR), CTX, P(TENSOR), i32, i32]),
    "adapt_op_gather_rows": (STATUS, [P(TENSOR), CTX, TENSOR, I64P, i64]),
    "adapt_op_scatter_add_rows": (STATUS, [P(TENSOR), CTX, TENSOR, I64P, i64]),
    "adapt_op_sum": REDUCE, "adapt_op_mean": REDUCE,
    "adapt_op_dropout": (STATUS, [P(TENSOR), CTX, TENSOR, f32]),
    "adapt_op_cross_entropy": (STATUS, [P(TENSOR), CTX, TENSOR, I32P, f32]),
    "adapt_op_one_vs_all_loss": (STATUS, [P(TENSOR), CTX, TENSOR, I32P]),
    "adapt_op_mse": BINARY,
    "adapt_backward": (STATUS, [CTX, TENSOR]),
    # models
    "adapt_mlp_params_init": (None, [P(MlpParams), C.c_size_t]),
    "adapt_cnn_params_init": (None, [P(CnnParams), C.c_size_t]),
    "adapt_vit_params_init": (None, [P(VitParams), C.c_size_t]),
    "adapt_model_create_mlp": (STATUS, [P(MODEL), P(MlpParams)]),
    "adapt_model_create_cnn": (STATUS, [P(MODEL), P(CnnParams)]),
    "adapt_model_create_vit": (STATUS, [P(MODEL), P(VitParams)]),
    "adapt_model_free": (None, [MODEL]),
    "adapt_layer_params_init": (None, [P(LayerParams), C.c_size_t]),
    "adapt_model_create_sequential": (STATUS, [P(MODEL), i32, I64P, u64]),
    "adapt_model_append": (STATUS, [MODEL, P(LayerParams)]),
    "adapt_model_block_count": (i32, [MODEL]),
    "adapt_model_block_info": (STATUS, [P(BlockInfo), MODEL, i32]),
    "adapt_model_flops": (i64, [MODEL]),
    "adapt_model_forward_blocks": (STATUS, [P(TENSOR), CTX, MODEL, TENSOR, i32, i32]),
    "adapt_model_forward": (STATUS, [P(TENSOR), CTX, MODEL, TENSOR]),
    "adapt_model_param_count": (i32, [MODEL]),
    "adapt_model_param": (TENSOR, [MODEL, i32]),
    "adapt_model_param_name": (C.c_char_p, [MODEL, i32]),
    "adapt_model_classes": (i32, [MODEL]),
    "adapt_model_submodule": (STATUS, [P(SubmoduleInfo), MODEL, C.c_char_p]),
    "adapt_model_replace": (STATUS, [MODEL, C.c_char_p, MODEL, P(MODEL)]),
    "adapt_model_forward_flops": (STATUS, [P(TENSOR), I64P, CTX, MODEL, TENSOR]),
    "adapt_record_params_init": (None, [P(RecordParams), C.c_size_t]),
    "adapt_model_record": (STATUS, [P(RECORDING), MODEL, C.c_char_p, DATASET, P(RecordParams)]),
    "adapt_recording_data": (F32P, [RECORDING, i32, I32P, I64P]),
    "adapt_recording_free": (None, [RECORDING]),
    "adapt_recording_create": (STATUS, [P(RECORDING), F32P, i32, I64P, F32P, i32, I64P, i64]),
    "adapt_modules_distill": (STATUS, [P(MODEL), P(RECORDING), i32, P(TrainParams)]),
    # Mixture-of-Experts
    "adapt_ffn_module": (STATUS, [P(MODEL), MODEL, C.c_char_p, i32]),
    "adapt_moe_params_init": (None, [P(MoeParams), C.c_size_t]),
    "adapt_moe_from_ffn": (STATUS, [P(MODEL), MODEL, C.c_char_p, P(MoeParams)]),
    "adapt_moe_expert_counts": (STATUS, [I32P, CTX, MODEL, TENSOR]),
    "adapt_moe_train_routers": (STATUS, [P(MODEL), P(RECORDING), i32, P(TrainParams)]),
    "adapt_model_set_routing": (STATUS, [MODEL, i32, f32, i32, I32P]),
    # Adaptive Computation Modules
    "adapt_acm_params_init": (None, [P(AcmParams), C.c_size_t]),
    "adapt_acm_for": (STATUS, [P(MODEL), MODEL, C.c_char_p, P(AcmParams)]),
    "adapt_acm_learner_counts": (STATUS, [I32P, CTX, MODEL, TENSOR]),
    "adapt_model_set_acm_learners": (STATUS, [MODEL, i32, I32P]),
    "adapt_acm_distill": (STATUS, [P(MODEL), P(RECORDING), i32, P(TrainParams)]),
    "adapt_acm_train_gates": (STATUS, [P(MODEL), P(RECORDING), i32, f32, P(TrainParams)]),
    # datasets and files
    "adapt_dataset_wrap": (STATUS, [P(DATASET), F32P, i32, I64P, I32P]),
    "adapt_dataset_load_idx": (STATUS, [P(DATASET), C.c_char_p, C.c_char_p]),
    "adapt_dataset_split": (STATUS, [P(DATASET), P(DATASET), DATASET, f32, u64]),
    "adapt_dataset_free": (None, [DATASET]),
    "adapt_dataset_count": (i64, [DATASET]),
    "adapt_dataset_sample_shape": (i32, [DATASET, I64P]),
    "adapt_dataset_sample": (STATUS, [P(F32P), I32P, DATASET, i64]),
    "adapt_npy_read": (STATUS, [P(F32P), I32P, I64P, C.c_char_p]),
    "adapt_npy_write": (STATUS, [C.c_char_p, F32P, i32, I64P]),
    "adapt_safetensors_read": (STATUS, [P(F32P), I32P, I64P, C.c_char_p, C.c_char_p]),
    # training and checkpoints
    "adapt_train_params_init": (None, [P(TrainParams), C.c_size_t]),
    "adapt_model_train": (STATUS, [MODEL, DATASET, DATASET, P(TrainParams)]),
    "adapt_model_evaluate": (STATUS, [P(EvalResult), I64P, MODEL, DATASET, i32, i32]),
    "adapt_model_forward_interval": (STATUS, [P(TENSOR), P(TENSOR), P(TENSOR), CTX, MODEL,
                                              TENSOR, TENSOR, TENSOR]),
    "adapt_op_worst_case_logits": (STATUS, [P(TENSOR), CTX, TENSOR, TENSOR, I32P]),
    "adapt_model_set_interval_phase": (STATUS, [MODEL, i32, I32P]),
    "adapt_model_interval_consolidate": (STATUS, [MODEL, I32P]),
    "adapt_model_certify": (STATUS, [P(CertifyResult), MODEL, DATASET, f32, f32, f32, i32, i32]),
    # continual learning
    "adapt_dataset_select_classes": (STATUS, [P(DATASET), DATASET, I32P, i32, i32]),
    "adapt_consolidation_create": (STATUS, [P(CONSOLIDATION), MODEL, i32, f32]),
    "adapt_merge_params_init": (None, [P(MergeParams), C.c_size_t]),
    "adapt_models_merge": (STATUS, [MODEL, MODEL, P(MODEL), i32, P(MergeParams)]),
    "adapt_tune_params_init": (None, [P(TuneParams), C.c_size_t]),
    "adapt_model_low_rank_tune": (STATUS, [MODEL, MODEL, P(MODEL), i32, P(TuneParams)]),
    "adapt_probe_params_init": (None, [P(ProbeParams), C.c_size_t]),
    "adapt_probe_fit": (STATUS, [P(PROBE), P(F32P), I64P, i32, I32P, i64, P(ProbeParams)]),
    "adapt_probe_score": (STATUS, [PROBE, F32P, F32P, P(F32P), I64P, i32, i64]),
    "adapt_probe_set_threshold_for_fpr": (STATUS, [PROBE, P(F32P), I64P, i32, i64,
                                                   C.c_double]),
    "adapt_probe_set_threshold": (STATUS, [PROBE, C.c_double]),
    "adapt_probe_threshold": (C.c_double, [PROBE]),
    "adapt_probe_layer_count": (i32, [PROBE]),
    "adapt_probe_combination": (STATUS, [PROBE, F64P]),
    "adapt_probe_layer_weights": (STATUS, [PROBE, i32, F64P]),
    "adapt_probe_free": (None, [PROBE]),
    "adapt_probe_flops": (i64, [PROBE]),
    "adapt_router_params_init": (None, [P(RouterParams), C.c_size_t]),
    "adapt_router_create": (STATUS, [P(ROUTER), MODEL, MODEL, PROBE, P(RouterParams)]),
    "adapt_router_run": (STATUS, [P(RouteOutputs), CTX, ROUTER, TENSOR]),
    "adapt_router_free": (None, [ROUTER]),
    "adapt_flow_params_init": (None, [P(FlowParams), C.c_size_t]),
    "adapt_flow_create": (STATUS, [P(FLOW), P(FlowParams)]),
    "adapt_flow_free": (None, [FLOW]),
    "adapt_flow_save": (STATUS, [FLOW, C.c_char_p]),
    # segmentation
    "adapt_segmentation_train": (STATUS, [MODEL, F32P, I32P, i64, P(TrainParams)]),
    "adapt_segmentation_predict": (STATUS, [I32P, MODEL, F32P, i64, i32]),
    "adapt_segmentation_scores": (STATUS, [P(SegmentationScore), F64P, I32P, I32P, i64, i32]),
    # pipelines
    "adapt_stage_params_init": (None, [P(StageParams), C.c_size_t]),
    "adapt_pipeline_create": (STATUS, [P(PIPELINE)]),
    "adapt_pipeline_free": (None, [PIPELINE]),
    "adapt_pipeline_add": (STATUS, [PIPELINE, P(StageParams), MODEL]),
    "adapt_pipeline_replace": (STATUS, [PIPELINE, C.c_char_p, MODEL, P(MODEL)]),
    "adapt_pipeline_stage_count": (i32, [PIPELINE]),
    "adapt_pipeline_stage_name": (C.c_char_p, [PIPELINE, i32]),
    "adapt_pipeline_stage_model": (MODEL, [PIPELINE, C.c_char_p]),
    "adapt_pipeline_run": (STATUS, [P(PIPELINE_RESULT), PIPELINE, F32P, I64P, i32]),
    "adapt_pipeline_result_map": (I32P, [PIPELINE_RESULT, C.c_char_p, I64P, I64P]),
    "adapt_pipeline_result_crop_count": (i64, [PIPELINE_RESULT, C.c_char_p]),
    "adapt_pipeline_result_crop": (STATUS, [PIPELINE_RESULT, C.c_char_p, i64, P(PipelineCrop)]),
    "adapt_pipeline_result_report": (STATUS, [PIPELINE_RESULT, C.c_char_p, P(StageReport)]),
    "adapt_pipeline_result_free": (None, [PIPELINE_RESULT]),
    "adapt_pipeline_save": (STATUS, [PIPELINE, C.c_char_p]),
    "adapt_pipeline_load": (STATUS, [P(PIPELINE), C.c_char_p]),
    "adapt_flow_settings": (STATUS, [FLOW, P(FlowParams)]),
    "adapt_flow_load": (STATUS, [P(FLOW), C.c_char_p]),
    "adapt_flow_forward": (STATUS, [P(TENSOR), P(TENSOR), CTX, FLOW, TENSOR, TENSOR]),
    "adapt_flow_inverse": (STATUS, [F32P, FLOW, F32P, F32P, i64]),
    "adapt_flow_prior_init": (None, [P(FlowPrior), C.c_size_t]),
    "adapt_flow_train": (STATUS, [FLOW, F32P, F32P, F32P, I32P, i64, P(FlowPrior),
                                  P(TrainParams)]),
    "adapt_flow_edit": (STATUS, [F32P, FLOW, F32P, F32P, i64, I32P, i32, F32P]),
    "adapt_flow_param_count": (i32, [FLOW]),
    "adapt_flow_param": (TENSOR, [FLOW, i32]),
    "adapt_flow_param_name": (C.c_char_p, [FLOW, i32]),
    "adapt_consolidation_free": (None, [CONSOLIDATION]),
    "adapt_consolidation_end_task": (STATUS, [CONSOLIDATION, MODEL, DATASET, i32]),
    "adapt_consolidation_penalty": (STATUS, [F64P, CONSOLIDATION, MODEL]),
    "adapt_model_save": (STATUS, [MODEL, C.c_char_p]),
    "adapt_model_load": (STATUS, [P(MODEL), C.c_char_p]),
    "adapt_model_load_weights": (STATUS, [MODEL, C.c_char_p]),
    # calibration and failure prediction
    "adapt_metrics_compute": (STATUS, [P(MetricsReport), F32P, I32P, i64, i32, C.c_int]),
    "adapt_calibrator_params_init": (None, [P(CalibratorParams), C.c_size_t]),
    "adapt_calibrator_fit": (STATUS, [P(CALIBRATOR), P(CalibratorParams), F32P, I32P, i64,
                                      i32]),
    "adapt_calibrator_apply": (STATUS, [F32P, CALIBRATOR, F32P, i64, i32]),
    "adapt_calibrator_temperature": (STATUS, [F64P, CALIBRATOR]),
    "adapt_calibrator_exponent": (STATUS, [F64P, CALIBRATOR]),
    "adapt_calibrator_free": (None, [CALIBRATOR]),
    # early exits
    "adapt_head_params_init": (None, [P(HeadParams), C.c_size_t]),
    "adapt_head_create": (STATUS, [P(HEAD), MODEL, P(HeadParams)]),
    "adapt_head_free": (None, [HEAD]),
    "adapt_model_add_head": (STATUS, [MODEL, HEAD, I32P]),
    "adapt_model_remove_head": (STATUS, [P(HEAD), MODEL, i32]),
    "adapt_model_head_count": (i32, [MODEL]),
    "adapt_model_head": (HEAD, [MODEL, i32]),
    "adapt_head_info_get": (STATUS, [P(HeadInfo), HEAD]),
    "adapt_model_exit_flops": (STATUS, [I64P, i32, MODEL]),
    "adapt_model_forward_exits": (STATUS, [P(TENSOR), i32, CTX, MODEL, TENSOR]),
    "adapt_model_exit_logits": (STATUS, [F32P, i64, MODEL, DATASET, i32, i32]),
    "adapt_exit_train_params_init": (None, [P(ExitTrainParams), C.c_size_t]),
    "adapt_model_train_exits": (STATUS, [MODEL, DATASET, DATASET, P(ExitTrainParams)]),
    "adapt_exit_policy_init": (None, [P(ExitPolicy), C.c_size_t]),
    "adapt_model_infer_exits": (STATUS, [P(ExitOutputs), CTX, MODEL, TENSOR, P(ExitPolicy)]),
    "adapt_exit_simulate": (STATUS, [P(ExitOutcome), I64P, P(ExitRecords), P(ExitPolicy)]),
    "adapt_exit_sweep": (STATUS, [P(ExitCurve), F64P, F64P, F64P, i32, P(ExitRecords), i32]),
    "adapt_exit_fit": (STATUS, [F32P, P(ExitOutcome), P(ExitRecords), i32, i32, C.c_int,
                                C.c_double]),
}


def _raise_on_error(status, function, _arguments):
    if status != 0:
        detail = lib.adapt_last_error().decode("utf-8", "replace")
        raise error_for_status(status, detail or f"{function.__name__} failed")
    return status


#: Header functions the loaded library does not export (a build in progress): calling one
#: raises UnsupportedError naming it, while the rest of the package stays usable.
MISSING = set()


def _missing(name):
    def unavailable(*_arguments):
        raise UnsupportedError(f"{name} is not exported by {path}; rebuild the library")
    unavailable.__name__ = name
    return unavailable


def _declare():
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            MISSING.add(name)
            setattr(lib, name, _missing(name))
            continue
        function.argtypes = argtypes
        if restype is STATUS:
            function.restype = C.c_int
            function.errcheck = _raise_on_error
        else:
            function.restype = restype


_declare()

# adapt_npy_read and adapt_safetensors_read hand out memory the caller releases with the C
# library's free().
libc = C.CDLL(None)
libc.free.argtypes = [C.c_void_p]
libc.free.restype = None
