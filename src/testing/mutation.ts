/** Helpers for mutation tests: every node of a JSON value, and single-node mutants of it. */

/** Marks a mutation that removes the node instead of replacing it. */
export const REMOVE = Symbol("remove");

export type Path = (string | number)[];

/** Paths to every node below the root. */
export function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== "object" || value === null) return [];
  const out: Path[] = [];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  for (const [key, child] of entries) {
    const at = [...prefix, key];
    out.push(at, ...pathsOf(child, at));
  }
  return out;
}

/** A deep copy of `root` with the node at `at` replaced (or removed with REMOVE); throws if its parent is missing. */
export function mutate(root: unknown, at: Path, replacement: unknown): unknown {
  const copy = structuredClone(root) as any;
  let parent = copy;
  for (const key of at.slice(0, -1)) parent = parent[key];
  const last = at[at.length - 1]!;
  if (replacement !== REMOVE) parent[last] = structuredClone(replacement);
  else if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete parent[last];
  return copy;
}
