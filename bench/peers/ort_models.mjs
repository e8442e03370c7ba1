// ONNX Runtime side of the model benchmark (bench/run_models.sh): inference of the ONNX files
// bench/peers/torch_models.py exports, measured as bench/bench_models.c measures libadapt.
//
//   node ort_models.mjs ORT_DIR MODEL.onnx MODEL MODE [threads] [warmup] [rounds] [seconds]
//     ORT_DIR  directory holding node_modules/onnxruntime-node (bench/peers/setup_ort.sh)
//     MODEL    mlp | vit (fixes the input shape); MODE infer1 | infer256
//
// CPU execution provider, intraOpNumThreads = threads, interOpNumThreads = 1, sequential
// execution, all graph optimisations. `warmup` untimed runs (default 2), then timed runs
// until at least `rounds` (default 5) and `seconds` (default 3) have passed; prints the upper
// median in the "result key=value ..." line bench_models prints, with this process's peak RSS.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';

const MAX_ROUNDS = 10000;
const BATCH = { infer1: 1, infer256: 256 };

function usage() {
  console.error('usage: node ort_models.mjs ORT_DIR MODEL.onnx mlp|vit infer1|infer256 ' +
                '[threads] [warmup] [rounds] [seconds]');
  process.exit(2);
}

const [ortDir, onnxPath, model, mode, ...rest] = process.argv.slice(2);
if (!ortDir || !onnxPath || !['mlp', 'vit'].includes(model) || !(mode in BATCH)) usage();
const threads = Number(rest[0] ?? 0) || availableParallelism();
const warmup = Number(rest[1] ?? 2);
const minRounds = Number(rest[2] ?? 5);
const seconds = Number(rest[3] ?? 3);
if (![warmup, minRounds, seconds].every((v) => Number.isFinite(v) && v >= 0)) usage();

const ort = createRequire(join(ortDir, 'package.json'))('onnxruntime-node');

const batch = BATCH[mode];
const shape = model === 'mlp' ? [batch, 784] : [batch, 3, 32, 32];
const values = new Float32Array(shape.reduce((a, b) => a * b));
for (let i = 0; i < values.length; i++) values[i] = Math.random();

const session = await ort.InferenceSession.create(onnxPath, {
  executionProviders: ['cpu'],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', values, shape) };

for (let i = 0; i < warmup; i++) await session.run(feeds);
const samples = [];
const start = performance.now();
while (samples.length < MAX_ROUNDS &&
       (samples.length < minRounds || performance.now() - start < 1e3 * seconds)) {
  const t0 = performance.now();
  await session.run(feeds);
  samples.push((performance.now() - t0) / 1e3);
}
samples.sort((a, b) => a - b);
const median = samples[Math.floor(samples.length / 2)];
const rssMiB = process.resourceUsage().maxRSS / 1024; // KiB
console.log(`result impl=ort model=${model} mode=${mode} threads=${threads} batch=${batch} ` +
            `rounds=${samples.length} median_ms=${(1e3 * median).toFixed(4)} ` +
            `samples_per_s=${(batch / median).toFixed(2)} rss_mib=${rssMiB.toFixed(1)}`);
