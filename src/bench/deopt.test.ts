import { expect, test } from "bun:test";
import { countExits } from "./deopt.ts";

test("countExits counts JSC's speculation failures per function, bytecode and kind", () => {
  // Lines as Bun 1.4.5 prints them with BUN_JSC_printEachOSRExit=1 (register dumps between them).
  const exit = (fn: string, bc: number, kind: string) =>
    `Speculation failure in ${fn}:[0x35828f71600->0x35821536400->0x35821059200, DFGFunctionCall, 3064 (DidTryToEnterInLoop) (StrictMode)] @ exit #15 (bc#${bc}, ${kind}) with executeCounter = 0.000000/4220.000000, -1000, reoptimizationRetryCounter = 0, optimizationDelayCounter = 5, osrExitCounter = 0\n    GPRs at time of exit: rax:0x35823a9ee80 rsi:0x35823a9ee80\n    FPRs at time of exit: xmm0:0:0.000000`;
  const log = [
    ...Array.from({ length: 3 }, () => exit("openChat#EYL1RS", 207, "OutOfBounds")),
    exit("#DYH21D", 67, "BadCache"),
    exit("map#CPBdlN", 17, "BadCache"),
    exit("map#CPBdlN", 17, "BadCache"),
    exit("map#CPBdlN", 20, "BadCache"),
    "[GC<0x250d2638118>: starting 0.038227ms]",
    "Optimized openChat#EYL1RS:[0x250df001980] using DFG with DFG into 10304 bytes in 4.528216 ms.",
  ].join("\n");
  expect(countExits(log)).toEqual([
    { site: "openChat#EYL1RS bc#207 OutOfBounds", exits: 3 },
    { site: "map#CPBdlN bc#17 BadCache", exits: 2 },
    { site: "#DYH21D bc#67 BadCache", exits: 1 },
    { site: "map#CPBdlN bc#20 BadCache", exits: 1 },
  ]);
  expect(countExits("no exits here\n")).toEqual([]);
});

test("a Bun process with BUN_JSC_printEachOSRExit prints exits that countExits reads", async () => {
  // A function optimised for numbers, then called with strings: it must take BadType exits.
  const script = `
    function add(a, b) { return a + b; }
    let x = 0;
    for (let i = 0; i < 200000; i++) x = add(i, 1);
    for (let i = 0; i < 2000; i++) add("a" + i, "b");
    console.log(x);
  `;
  const proc = Bun.spawn([process.execPath, "-e", script], {
    env: { ...process.env, BUN_JSC_printEachOSRExit: "1", BUN_JSC_useConcurrentJIT: "0" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  expect(await proc.exited).toBe(0);
  expect(out).toContain("200000");
  const sites = countExits(out + err);
  expect(sites.some((s) => s.site.startsWith("add#") && s.exits >= 1)).toBe(true);
});
