# The table of bench/run_acm.sh from bench_acm's "result key=value ..." lines: per batch and
# setting (a fixed learner count, or gates shaped around a budget), the learners a token ran,
# and the ACM layers' and the whole model's measured and counted speed-ups over the dense ViT.
# Target, for the budgets: measured >= 0.85 x counted wherever the counted saving is >= 25 %.
# The fixed counts show latency against executed learners (0 learners: the layers do nothing).
function field(name,    i, kv) {
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == name) return kv[2]
    }
    return ""
}
function verdict(measured, counted) {
    if (setting !~ /^beta/ || 1 - 1 / counted < 0.25) return "—"
    return measured >= 0.85 * counted ? "met" : "missed"
}
BEGIN {
    print "| batch | setting | learners run | layers ms (dense) | layers counted | layers measured | ratio | target | model ms (dense) | model counted | model measured | ratio | target |"
    print "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"
}
/^result/ {
    setting = field("setting")
    lc = field("layers_counted"); lm = field("layers_measured")
    if (lc == "inf") { lc = 0; lm = 0 }
    mc = field("model_counted"); mm = field("model_measured")
    printf "| %s | %s | %.2f | %.3f (%.3f) | %.2f | %.2f | %.2f | %s | %.3f (%.3f) | %.2f | %.2f | %.2f | %s |\n",
        field("batch"), setting, field("ran"), field("layers_ms"),
        field("dense_layers_ms"), lc, lm, (lc > 0 ? lm / lc : 0), (lc > 0 ? verdict(lm, lc) : "—"), field("model_ms"),
        field("dense_model_ms"), mc, mm, mm / mc, verdict(mm, mc)
}
