/** Command-line options of `bun run bench`; every flag can also be set as BENCH_<NAME> in the environment. */

export type Options = {
  duration: number;
  warmup: number;
  repeat: number;
  ttfbRequests: number;
  connections: number[];
  loadgen: "auto" | "wrk" | "bun";
  gateway: "auto" | "binary" | "source";
  firstChunkDelay: number;
  chunkGap: number;
  quick: boolean;
  /** Also measure a minimal Elysia proxy route (the framework floor). */
  floor: boolean;
  /** Paired phase: slices per connection count (0 = skip) and seconds per slice. */
  slices: number;
  sliceDuration: number;
  /** Co-run phase: rounds per pair and connection count (0 = skip) and seconds per round. */
  corunRounds: number;
  corunSeconds: number;
};

export const USAGE = `bun run bench [options]    (src/bench/index.ts)

Compares llm-proxy with a bare Bun passthrough proxy, both in front of a mock upstream.

  --duration S          seconds per load measurement              (default 10; --quick 3)
  --warmup S            warm-up seconds before measuring a target  (default 6; --quick 1)
  --repeat N            rounds (fresh processes each); medians are reported (default 3; --quick 1)
  --ttfb-requests N     sequential streaming requests per round    (default 200; --quick 50)
  --connections A,B     connection counts for requests/s           (default 32,128; RSS at the largest)
  --loadgen auto|wrk|bun    wrk if installed (auto), else the Bun fetch client
  --gateway auto|binary|source  dist/llm-proxy if newer than the sources (auto), else bun src/index.ts
  --first-chunk-delay MS    mock upstream delay before the first SSE chunk (default 0)
  --chunk-gap MS            mock upstream delay between SSE chunks       (default 1)
  --quick               short run for development
  --floor               also measure a minimal Elysia proxy route (src/bench/elysia-floor.ts)
  --slices N            paired phase: the servers run side by side and take turns, N slices of load
                        each per connection count; ratios are per slice, then the median (default 8;
                        --quick 2; 0 skips the phase)
  --slice-duration S    seconds per slice                        (default 4; --quick 2)
  --corun-rounds N      co-run phase: llm-proxy and the passthrough (then llm-proxy with the log
                        off and on) pinned to one core and loaded at the same time, N rounds per
                        pair and connection count; CPU per request of each (default 6; --quick 2;
                        0 skips the phase)
  --corun-seconds S     seconds per co-run round                 (default 5; --quick 2)
Environment: BENCH_DURATION=5, BENCH_REPEAT=1, BENCH_LOADGEN=bun, … (flags win).`;

const QUICK = { duration: 3, warmup: 1, repeat: 1, ttfbRequests: 50, slices: 2, sliceDuration: 2, corunRounds: 2, corunSeconds: 2 };
// Warm-up 6 s: the compiled gateway's JIT threads still took ~12% of its CPU in the first 4 s of
// load (43-55 of ~400 ticks), and ~0 after; a shorter warm-up measures part of the start-up.
const DEFAULTS = { duration: 10, warmup: 6, repeat: 3, ttfbRequests: 200, slices: 8, sliceDuration: 4, corunRounds: 6, corunSeconds: 5 };

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseArgs(argv: string[], env: Record<string, string | undefined> = process.env): Options {
  const known = new Set(["duration", "warmup", "repeat", "ttfbRequests", "connections", "loadgen", "gateway", "firstChunkDelay", "chunkGap", "quick", "floor", "slices", "sliceDuration", "corunRounds", "corunSeconds"]);
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    const name = camel(k.slice(6).toLowerCase().replace(/_/g, "-"));
    if (k.startsWith("BENCH_") && v !== undefined && v !== "" && known.has(name)) raw[name] = v;
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    if (!a.startsWith("--")) throw new Error(`unexpected argument '${a}'\n\n${USAGE}`);
    const eq = a.indexOf("=");
    const name = camel(eq > 0 ? a.slice(2, eq) : a.slice(2));
    if (name === "quick" || name === "floor") {
      raw[name] = "1";
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`${a} needs a value`);
    raw[name] = value;
  }
  const flag = (name: string) => raw[name] !== undefined && raw[name] !== "0" && raw[name] !== "false";
  const quick = flag("quick");
  const base = quick ? QUICK : DEFAULTS;
  const num = (name: keyof typeof DEFAULTS | "firstChunkDelay" | "chunkGap", fallback: number, min: number, max: number) => {
    const v = raw[name] === undefined ? fallback : Number(raw[name]);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name}: expected a number in [${min}, ${max}], got '${raw[name]}'`);
    return v;
  };
  const choice = <T extends string>(name: string, values: readonly T[]): T => {
    const v = (raw[name] ?? values[0]) as T;
    if (!values.includes(v)) throw new Error(`--${name}: expected one of ${values.join("|")}, got '${v}'`);
    return v;
  };
  const connections = (raw.connections ?? "32,128").split(",").map((s) => Number(s.trim()));
  if (!connections.length || connections.some((c) => !Number.isInteger(c) || c < 1 || c > 1024)) {
    throw new Error(`--connections: expected a list of integers in [1, 1024], got '${raw.connections}'`);
  }
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length) throw new Error(`unknown option(s): ${unknown.join(", ")}\n\n${USAGE}`);
  return {
    duration: num("duration", base.duration, 1, 600),
    warmup: num("warmup", base.warmup, 0, 120),
    repeat: Math.round(num("repeat", base.repeat, 1, 20)),
    ttfbRequests: Math.round(num("ttfbRequests", base.ttfbRequests, 5, 10_000)),
    connections,
    loadgen: choice("loadgen", ["auto", "wrk", "bun"] as const),
    gateway: choice("gateway", ["auto", "binary", "source"] as const),
    firstChunkDelay: num("firstChunkDelay", 0, 0, 10_000),
    chunkGap: num("chunkGap", 1, 0, 1000),
    quick,
    floor: flag("floor"),
    slices: Math.round(num("slices", base.slices, 0, 100)),
    sliceDuration: num("sliceDuration", base.sliceDuration, 1, 120),
    corunRounds: Math.round(num("corunRounds", base.corunRounds, 0, 100)),
    corunSeconds: num("corunSeconds", base.corunSeconds, 1, 120),
  };
}

/** `--name N` from a side script's arguments (profile, in-process, deopt): a positive number, or `fallback` when absent. */
export function positiveFlag(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  const n = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number`);
  return n;
}

/** `--name VALUE` from a side script's arguments, one of `choices`; `choices[0]` when absent. */
export function choiceFlag<C extends string>(argv: string[], name: string, choices: readonly [C, ...C[]]): C {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return choices[0];
  const value = argv[i + 1];
  if (!choices.includes(value as C)) throw new Error(`--${name} takes ${choices.join(", ")}`);
  return value as C;
}
