# The Markdown table of bench/run_models.sh from the "result key=value ..." lines that
# bench_models, peers/torch_models.py and peers/ort_models.mjs print. Pass -v sgemm=GFLOP/s.
# Ratios are libadapt's advantage: lib/peer for rates, peer/lib for latency and memory, so a
# ratio above 1 always means libadapt is better. A case measured several times (repeats) shows
# the median of its repeats, field by field.

/^result / {
    delete kv
    for (i = 2; i <= NF; i++) {
        split($i, pair, "=")
        kv[pair[1]] = pair[2]
    }
    key = kv["impl"] SUBSEP kv["model"] SUBSEP kv["mode"]
    n = ++repeats[key]
    for (k in kv)
        value[key, n, k] = kv[k]
    if (kv["impl"] == "libadapt")
        flops[kv["model"]] = kv["flops_per_sample"]
}

function has(impl, model, mode, field) {
    return ((impl, model, mode, 1, field) in value)
}

# Median over the repeats of a case (insertion sort: a handful of values).
function median(impl, model, mode, field,    key, n, i, j, v, t) {
    key = impl SUBSEP model SUBSEP mode
    n = 0
    for (i = 1; i <= repeats[key]; i++)
        if ((key, i, field) in value) {
            t = value[key, i, field] + 0
            for (j = n; j > 0 && v[j] > t; j--)
                v[j + 1] = v[j]
            v[j + 1] = t
            n++
        }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

# Forward GFLOP/s from samples/s and libadapt's count of FLOPs per sample (the same model).
function figure(impl, model, mode, field) {
    if (field == "gflops") {
        if (!has(impl, model, mode, "samples_per_s") || !(model in flops))
            return ""
        return median(impl, model, mode, "samples_per_s") * flops[model] * 1e-9
    }
    return has(impl, model, mode, field) ? median(impl, model, mode, field) : ""
}

function show(v) {
    if (v == "")
        return "—"
    return sprintf(v >= 1000 ? "%.0f" : v >= 10 ? "%.1f" : "%.3f", v)
}

function ratio(lib, peer, lower_better) {
    if (lib == "" || peer == "" || lib <= 0 || peer <= 0)
        return ""
    return lower_better ? peer / lib : lib / peer
}

function show_ratio(r) {
    return r == "" ? "—" : sprintf("%.2f", r)
}

# One table row; `target` is "torch:2" or "ort:1" (the ratio that must be reached) or "".
function row(model, mode, field, label, lower_better, target,
             lib, pt, ort, rt, ro, r, t, goal) {
    lib = figure("libadapt", model, mode, field)
    pt = figure("pytorch", model, mode, field)
    ort = figure("ort", model, mode, field)
    rt = ratio(lib, pt, lower_better)
    ro = ratio(lib, ort, lower_better)
    goal = ""
    if (target != "") {
        split(target, t, ":")
        r = t[1] == "torch" ? rt : ro
        goal = sprintf("≥ %s vs %s: %s", t[2], t[1] == "torch" ? "PyTorch" : "ORT",
                       r == "" ? "—" : r >= t[2] ? "met" : "missed")
    }
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", model, label, show(lib), show(pt),
           show(ort), show_ratio(rt), show_ratio(ro), goal
}

END {
    print "| model | figure | libadapt | PyTorch | ORT | lib/torch | lib/ort | target |"
    print "|---|---|---:|---:|---:|---:|---:|---|"
    for (m = 1; m <= 2; m++) {
        model = m == 1 ? "mlp" : "vit"
        row(model, "train128", "samples_per_s", "train b128, samples/s", 0,
            m == 1 ? "torch:3" : "torch:2")
        row(model, "train128", "rss_mib", "train b128, peak RSS MiB", 1, m == 1 ? "" : "torch:1")
        row(model, "train128", "arena_mib", "train b128, arena peak MiB", 1, "")
        row(model, "infer1", "median_ms", "infer b1, latency ms", 1, "ort:1")
        row(model, "infer1", "rss_mib", "infer b1, peak RSS MiB", 1, "")
        row(model, "infer1", "arena_mib", "infer b1, arena peak MiB", 1, "")
        row(model, "infer256", "samples_per_s", "infer b256, samples/s", 0, "ort:1")
        row(model, "infer256", "gflops", "infer b256, forward GFLOP/s", 0, "")
        row(model, "infer256", "rss_mib", "infer b256, peak RSS MiB", 1, "")
        row(model, "infer256", "arena_mib", "infer b256, arena peak MiB", 1, "")
    }
    vit = figure("libadapt", "vit", "infer256", "gflops")
    printf "\nsgemm (bench_gemm, 1024 x 1024 x 1024, best raw call): %s GFLOP/s. ", show(sgemm)
    if (vit != "" && sgemm > 0)
        printf("ViT forward b256: %.1f GFLOP/s = %.0f %% of sgemm (target ≥ 65 %%: %s).\n",
               vit, 100 * vit / sgemm, vit >= 0.65 * sgemm ? "met" : "missed")
    else
        print "ViT forward b256: not measured."
    print "Ratios above 1 mean libadapt is better: lib/peer for rates, peer/lib for latency"
    print "and memory. FLOPs: adapt_model_flops (forward matrix products only, a multiply-add"
    print "counting 2), the same count for all three."
}
