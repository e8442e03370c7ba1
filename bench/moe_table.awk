# The table of bench/run_moe.sh from its "result key=value ..." lines: per batch and tau, the
# MoE layers' and the whole model's measured and counted speed-ups over the dense network for
# libadapt, PyTorch's reference path on the same layers, and libadapt's speed over it.
# Target: measured >= 0.85 x counted wherever the counted saving is >= 25 %.
function field(name,    i, kv) {
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == name) return kv[2]
    }
    return ""
}
/^result/ {
    key = field("batch") " " field("tau")
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    impl = field("impl")
    for (i = 2; i <= NF; i++) { split($i, kv, "="); value[impl, key, kv[1]] = kv[2] }
}
function verdict(measured, counted) {
    if (1 - 1 / counted < 0.25) return "—"
    return measured >= 0.85 * counted ? "met" : "missed"
}
END {
    print "| batch | tau | layers counted | layers measured | ratio | target | model counted | model measured | ratio | PyTorch layers counted / measured | lib over PyTorch (layers) |"
    print "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    for (k = 1; k <= n; k++) {
        key = order[k]; split(key, part, " ")
        lc = value["libadapt", key, "layers_counted"]; lm = value["libadapt", key, "layers_measured"]
        mc = value["libadapt", key, "model_counted"]; mm = value["libadapt", key, "model_measured"]
        tc = value["torch", key, "layers_counted"]; tm = value["torch", key, "layers_measured"]
        lms = value["libadapt", key, "layers_ms"]; tms = value["torch", key, "layers_ms"]
        printf "| %s | %s | %.2f | %.2f | %.2f | %s | %.2f | %.2f | %.2f | %.2f / %.2f | %.2f |\n",
            part[1], part[2], lc, lm, lm / lc, verdict(lm, lc), mc, mm, mm / mc, tc, tm,
            (lms > 0 ? tms / lms : 0)
    }
}
