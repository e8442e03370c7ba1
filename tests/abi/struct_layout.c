/* The x86_64 layout of every struct of adapt.h's stable part, frozen (the experimental tier
 * may change, docs/abi.md): the numbers are the
 * released ABI, written as literals so that a change to a public struct stops
 * the build here, whatever the baseline says. A struct that starts with
 * struct_size may grow at its end (docs/abi.md): add the new field's offset,
 * raise the size, and leave every other line alone.
 *
 * Only x86_64 (LP64, System V) is checked. Other ABIs lay the same declarations
 * out differently (4-byte pointers and size_t on 32-bit targets, other
 * alignment of 64-bit fields on i386); they build this program and skip. */
#include "adapt.h"

#include <stddef.h>
#include <stdio.h>

#if defined(__x86_64__) && defined(__LP64__)

#define SIZE(type, n) _Static_assert(sizeof(type) == (n), "size of " #type " changed")
#define OFFSET(type, field, n) \
    _Static_assert(offsetof(type, field) == (n), "offset of " #type "." #field " changed")

SIZE(adapt_context_params, 40);
OFFSET(adapt_context_params, struct_size, 0);
OFFSET(adapt_context_params, n_threads, 8);
OFFSET(adapt_context_params, backend, 12);
OFFSET(adapt_context_params, seed, 16);
OFFSET(adapt_context_params, arena_initial_bytes, 24);
OFFSET(adapt_context_params, arena_limit_bytes, 32);

SIZE(adapt_mlp_params, 40);
OFFSET(adapt_mlp_params, struct_size, 0);
OFFSET(adapt_mlp_params, n_sizes, 8);
OFFSET(adapt_mlp_params, sizes, 16);
OFFSET(adapt_mlp_params, activation, 24);
OFFSET(adapt_mlp_params, dropout, 28);
OFFSET(adapt_mlp_params, seed, 32);

SIZE(adapt_cnn_params, 64);
OFFSET(adapt_cnn_params, struct_size, 0);
OFFSET(adapt_cnn_params, in_channels, 8);
OFFSET(adapt_cnn_params, image_size, 12);
OFFSET(adapt_cnn_params, n_classes, 16);
OFFSET(adapt_cnn_params, stem_channels, 20);
OFFSET(adapt_cnn_params, n_stages, 24);
OFFSET(adapt_cnn_params, stage_channels, 32);
OFFSET(adapt_cnn_params, stage_blocks, 40);
OFFSET(adapt_cnn_params, stage_strides, 48);
OFFSET(adapt_cnn_params, seed, 56);

SIZE(adapt_vit_params, 56);
OFFSET(adapt_vit_params, struct_size, 0);
OFFSET(adapt_vit_params, image_size, 8);
OFFSET(adapt_vit_params, in_channels, 12);
OFFSET(adapt_vit_params, patch, 16);
OFFSET(adapt_vit_params, dim, 20);
OFFSET(adapt_vit_params, depth, 24);
OFFSET(adapt_vit_params, heads, 28);
OFFSET(adapt_vit_params, mlp_ratio, 32);
OFFSET(adapt_vit_params, n_classes, 36);
OFFSET(adapt_vit_params, dropout, 40);
OFFSET(adapt_vit_params, seed, 48);

SIZE(adapt_layer_params, 128);
OFFSET(adapt_layer_params, struct_size, 0);
OFFSET(adapt_layer_params, kind, 8);
OFFSET(adapt_layer_params, out_features, 16);
OFFSET(adapt_layer_params, kernel, 24);
OFFSET(adapt_layer_params, stride, 28);
OFFSET(adapt_layer_params, padding, 32);
OFFSET(adapt_layer_params, heads, 36);
OFFSET(adapt_layer_params, mlp_ratio, 40);
OFFSET(adapt_layer_params, p, 44);
OFFSET(adapt_layer_params, experts, 48);
OFFSET(adapt_layer_params, router_width, 52);
OFFSET(adapt_layer_params, expert_width, 56);
OFFSET(adapt_layer_params, activation, 64);
OFFSET(adapt_layer_params, routing, 68);
OFFSET(adapt_layer_params, tau, 72);
OFFSET(adapt_layer_params, top_k, 76);
OFFSET(adapt_layer_params, learners, 80);
OFFSET(adapt_layer_params, learner_width, 88);
OFFSET(adapt_layer_params, gate_width, 96);
OFFSET(adapt_layer_params, min_learners, 100);
OFFSET(adapt_layer_params, rank, 104);
OFFSET(adapt_layer_params, scale, 112);
OFFSET(adapt_layer_params, upsample, 116);
OFFSET(adapt_layer_params, source, 120);

SIZE(adapt_block_info, 96);
OFFSET(adapt_block_info, struct_size, 0);
OFFSET(adapt_block_info, kind, 8);
OFFSET(adapt_block_info, out_ndim, 12);
OFFSET(adapt_block_info, out_shape, 16);
OFFSET(adapt_block_info, flops, 80);
OFFSET(adapt_block_info, n_params, 88);

SIZE(adapt_progress, 56);
OFFSET(adapt_progress, epoch, 0);
OFFSET(adapt_progress, epochs, 4);
OFFSET(adapt_progress, step, 8);
OFFSET(adapt_progress, steps, 16);
OFFSET(adapt_progress, loss, 24);
OFFSET(adapt_progress, learning_rate, 28);
OFFSET(adapt_progress, samples_per_second, 32);
OFFSET(adapt_progress, eta_seconds, 40);
OFFSET(adapt_progress, val_accuracy, 48);

SIZE(adapt_train_params, 200);
OFFSET(adapt_train_params, struct_size, 0);
OFFSET(adapt_train_params, epochs, 8);
OFFSET(adapt_train_params, batch_size, 12);
OFFSET(adapt_train_params, optimizer, 16);
OFFSET(adapt_train_params, learning_rate, 20);
OFFSET(adapt_train_params, momentum, 24);
OFFSET(adapt_train_params, nesterov, 28);
OFFSET(adapt_train_params, weight_decay, 32);
OFFSET(adapt_train_params, beta1, 36);
OFFSET(adapt_train_params, beta2, 40);
OFFSET(adapt_train_params, adam_eps, 44);
OFFSET(adapt_train_params, schedule, 48);
OFFSET(adapt_train_params, warmup_steps, 52);
OFFSET(adapt_train_params, step_epochs, 56);
OFFSET(adapt_train_params, step_gamma, 60);
OFFSET(adapt_train_params, min_learning_rate, 64);
OFFSET(adapt_train_params, grad_clip_norm, 68);
OFFSET(adapt_train_params, label_smoothing, 72);
OFFSET(adapt_train_params, seed, 80);
OFFSET(adapt_train_params, n_threads, 88);
OFFSET(adapt_train_params, progress, 96);
OFFSET(adapt_train_params, cancel, 104);
OFFSET(adapt_train_params, user_data, 112);
OFFSET(adapt_train_params, drop_last, 120);
OFFSET(adapt_train_params, recompute_blocks, 124);
OFFSET(adapt_train_params, sparsity_penalty, 128);
OFFSET(adapt_train_params, sparsity_warmup, 132);
OFFSET(adapt_train_params, acm_budget, 136);
OFFSET(adapt_train_params, acm_budget_weight, 140);
OFFSET(adapt_train_params, acm_entropy_weight, 144);
OFFSET(adapt_train_params, acm_diversity_weight, 148);
OFFSET(adapt_train_params, ibp_epsilon, 152);
OFFSET(adapt_train_params, ibp_kappa, 156);
OFFSET(adapt_train_params, ibp_ramp_start, 160);
OFFSET(adapt_train_params, ibp_ramp_end, 164);
OFFSET(adapt_train_params, ibp_input_min, 168);
OFFSET(adapt_train_params, ibp_input_max, 172);
OFFSET(adapt_train_params, interval_tau, 176);
OFFSET(adapt_train_params, consolidation, 184);
OFFSET(adapt_train_params, consolidation_weight, 192);
OFFSET(adapt_train_params, loss, 196);

SIZE(adapt_eval_result, 32);
OFFSET(adapt_eval_result, struct_size, 0);
OFFSET(adapt_eval_result, accuracy, 8);
OFFSET(adapt_eval_result, loss, 16);
OFFSET(adapt_eval_result, count, 24);

SIZE(adapt_metrics_report, 80);
OFFSET(adapt_metrics_report, struct_size, 0);
OFFSET(adapt_metrics_report, accuracy, 8);
OFFSET(adapt_metrics_report, ece, 16);
OFFSET(adapt_metrics_report, ks_error, 24);
OFFSET(adapt_metrics_report, nll, 32);
OFFSET(adapt_metrics_report, brier, 40);
OFFSET(adapt_metrics_report, auroc, 48);
OFFSET(adapt_metrics_report, aurc, 56);
OFFSET(adapt_metrics_report, eaurc, 64);
OFFSET(adapt_metrics_report, fpr_at_95_tpr, 72);

SIZE(adapt_calibrator_params, 32);
OFFSET(adapt_calibrator_params, struct_size, 0);
OFFSET(adapt_calibrator_params, method, 8);
OFFSET(adapt_calibrator_params, bins, 12);
OFFSET(adapt_calibrator_params, max_iterations, 16);
OFFSET(adapt_calibrator_params, tolerance, 24);

int main(void)
{
    puts("x86_64 layout of adapt.h's 11 stable structs matches the frozen sizes and offsets");
    return 0;
}

#else

int main(void)
{
    puts("SKIP: the frozen struct layout is that of x86_64");
    return 77;
}

#endif
