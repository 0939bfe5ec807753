/**
 * What the machine's cores give together, measured rather than assumed: the same fixed CPU-bound
 * loop is timed in one worker thread alone, then in one worker thread per core at once. A
 * machine whose cores are independent does `cores` times the work of one in the same time; a
 * virtual machine whose vCPUs share physical cores (hyperthreads on the host) or whose host is
 * overcommitted does less. Benches that compare a parallel pipeline with a single-threaded one
 * (bench:ingest's 1.7× target, bench:ocr's pages per minute with 2 workers) print this beside
 * their ratios: no pipeline beats a single-threaded one doing the same work by more than this.
 *
 * Run alone: `npx tsx bench/core-capacity.ts [rounds]`.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";

/** Integer work with no memory traffic to speak of: a linear congruential generator. */
const LOOP = `
const { parentPort, workerData } = require("node:worker_threads");
const t0 = process.hrtime.bigint();
let x = 1;
for (let i = 0; i < workerData; i++) x = (x * 1103515245 + 12345) % 2147483647;
parentPort.postMessage({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, x });
`;

function timeLoop(iterations: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(LOOP, { eval: true, workerData: iterations });
    w.once("message", (m: { seconds: number }) => resolve(m.seconds));
    w.once("error", reject);
  });
}

export interface CoreCapacity {
  cores: number;
  /** Seconds of the loop alone (median of the rounds). */
  aloneSeconds: number;
  /** Seconds of each loop when one runs per core at once (median over rounds of the slowest). */
  togetherSeconds: number;
  /** Work done per second with every core busy, over one core's: `cores` on independent cores. */
  capacity: number;
}

/**
 * Alternates "one alone" and "one per core together" `rounds` times (so load drift affects both)
 * with a loop of about `seconds` on this machine alone.
 */
export async function measureCoreCapacity(rounds = 3, seconds = 2): Promise<CoreCapacity> {
  const cores = os.availableParallelism();
  // Calibrate the loop to about `seconds`.
  const probe = 5e7;
  const probeSeconds = await timeLoop(probe);
  const iterations = Math.max(probe, Math.round((probe * seconds) / probeSeconds));
  const alone: number[] = [];
  const together: number[] = [];
  for (let r = 0; r < rounds; r++) {
    alone.push(await timeLoop(iterations));
    const all = await Promise.all(Array.from({ length: cores }, () => timeLoop(iterations)));
    together.push(Math.max(...all));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const aloneSeconds = median(alone);
  const togetherSeconds = median(together);
  return { cores, aloneSeconds, togetherSeconds, capacity: (cores * aloneSeconds) / togetherSeconds };
}

export function describeCoreCapacity(c: CoreCapacity): string {
  return (
    `the ${c.cores} cores together did ${c.capacity.toFixed(2)}× the work of one (a fixed CPU-bound loop: ` +
    `${c.aloneSeconds.toFixed(2)} s alone, ${c.togetherSeconds.toFixed(2)} s with one per core at once; bench/core-capacity.ts)`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const c = await measureCoreCapacity(Number(process.argv[2] ?? 3));
  console.log(describeCoreCapacity(c));
}
