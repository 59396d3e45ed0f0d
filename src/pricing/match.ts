/**
 * Model-id matching candidates, in the order they are tried (fixtures/models-dev/README.md,
 * "Fuzzy matching"). The registry takes the first candidate that is an exact key:
 *
 * 1. `exact`            the id as given;
 * 2. `case-insensitive` lower-cased;
 * 3. `normalized`       spelling rewrites that keep the model identity: `models/` and Vertex resource
 *                       prefixes, gateway `vendor/` prefixes, Bedrock `[region.]anthropic.` and
 *                       `-v1:0`, Vertex `@`, OpenRouter `:free`-style variants, Claude `4.5` → `4-5`,
 *                       xAI `grok-4-1-…` → `grok-4.1-…` and `…-reasoning` → base (never `-non-reasoning`);
 * 4. `suffix-stripped`  ONE dated/revision suffix removed: `-YYYY-MM-DD`, `-YYYYMMDD`, `-MMDD`, `-00N`;
 * 5. `fallback`         ONE preview/beta suffix removed (`-preview-MM-DD`, `-preview-MM-YYYY`,
 *                       `-exp-MM-DD`, `-preview`, `-beta`): the price is approximate and flagged.
 *
 * Suffix rules are applied once, never chained, and there is no prefix, substring or edit-distance
 * matching: that is how `gpt-4o-mini` becomes `gpt-4o` or `gpt-4-1106-preview` becomes `gpt-4`.
 */

export type MatchRule = "exact" | "case-insensitive" | "normalized" | "suffix-stripped" | "fallback" | "override";

export type Candidate = {
  /** Key to look up (lower-case for every rule but `exact`). */
  id: string;
  rule: Exclude<MatchRule, "override">;
  /** Human-readable rewrite steps, empty for exact. */
  steps: string[];
  /** True for `fallback`: the price is that of a related model. */
  approximate: boolean;
};

/** Gateway-style `vendor/` prefixes that may be stripped (OpenRouter, LiteLLM, Vercel, Vertex...). */
const VENDOR_PREFIXES = new Set([
  "openai", "azure", "google", "gemini", "vertex_ai", "vertex", "anthropic", "bedrock", "deepseek", "deepseek-ai",
  "x-ai", "xai", "grok", "mistral", "mistralai", "groq", "openrouter",
]);

const BEDROCK_PREFIX = /^(?:([a-z]{2,6}(?:-gov)?)\.)?anthropic\./;
const BEDROCK_VERSION = /-v\d+(?::\d+)?$/;
const VARIANT_SUFFIX = /:[a-z][a-z0-9-]*$/;

type SuffixRule = { re: RegExp; what: string; approximate: boolean; valid?: (m: RegExpExecArray) => boolean };

const isMonthDay = (mm: string, dd: string) => +mm >= 1 && +mm <= 12 && +dd >= 1 && +dd <= 31;

const SUFFIX_RULES: SuffixRule[] = [
  { re: /-(\d{4})-(\d{2})-(\d{2})$/, what: "date suffix", approximate: false, valid: (m) => isMonthDay(m[2]!, m[3]!) },
  { re: /-(20\d{2})(\d{2})(\d{2})$/, what: "date suffix", approximate: false, valid: (m) => isMonthDay(m[2]!, m[3]!) },
  { re: /-(\d{2})(\d{2})$/, what: "MMDD date suffix", approximate: false, valid: (m) => isMonthDay(m[1]!, m[2]!) },
  { re: /-00\d$/, what: "revision suffix", approximate: false },
  { re: /-preview-\d{2}-\d{2}$/, what: "preview suffix", approximate: true },
  { re: /-preview-\d{2}-\d{4}$/, what: "preview suffix", approximate: true },
  { re: /-exp-\d{2}-\d{2}$/, what: "experimental suffix", approximate: true },
  { re: /-preview$/, what: "preview suffix", approximate: true },
  { re: /-beta$/, what: "beta suffix", approximate: true },
];

/** Spelling normalisations of a lower-cased id; each form carries the steps that produced it. */
export function normalizedForms(lower: string): Array<{ id: string; steps: string[] }> {
  let s = lower.trim();
  const steps: string[] = [];
  const models = s.lastIndexOf("models/");
  if (models === 0 || (models > 0 && s[models - 1] === "/")) {
    steps.push(`stripped resource prefix "${s.slice(0, models + 7)}"`);
    s = s.slice(models + 7);
  }
  for (let i = 0; i < 2; i++) {
    const slash = s.indexOf("/");
    if (slash <= 0 || !VENDOR_PREFIXES.has(s.slice(0, slash))) break;
    steps.push(`stripped provider prefix "${s.slice(0, slash + 1)}"`);
    s = s.slice(slash + 1);
  }
  const bedrock = BEDROCK_PREFIX.exec(s);
  if (bedrock) {
    steps.push(`stripped Bedrock prefix "${bedrock[0]}"`);
    s = s.slice(bedrock[0].length);
  }
  if (s.startsWith("claude")) {
    const version = BEDROCK_VERSION.exec(s);
    if (version) {
      steps.push(`stripped Bedrock version "${version[0]}"`);
      s = s.slice(0, version.index);
    }
  }
  const variant = VARIANT_SUFFIX.exec(s);
  if (variant) {
    steps.push(`stripped variant "${variant[0]}"`);
    s = s.slice(0, variant.index);
  }
  if (s.startsWith("claude")) {
    if (s.includes("@")) {
      steps.push(`Vertex "@" → "-"`);
      s = s.replaceAll("@", "-");
    }
    const dashed = s.replace(/(\d)\.(\d)/g, "$1-$2");
    if (dashed !== s) {
      steps.push(`dotted version → dashes`);
      s = dashed;
    }
  }
  const forms = [{ id: s, steps }];
  if (s.startsWith("grok-")) {
    const version = /^grok-(\d+)-(\d)(?=-|$)/.exec(s);
    if (version) {
      const dotted = `grok-${version[1]}.${version[2]}`;
      steps.push(`xAI version "${version[0]}" → "${dotted}"`);
      s = dotted + s.slice(version[0].length);
      forms[0] = { id: s, steps };
    }
    if (s.endsWith("-reasoning") && !s.endsWith("-non-reasoning")) {
      forms.push({ id: s.slice(0, -"-reasoning".length), steps: [...steps, `stripped "-reasoning"`] });
    }
  }
  return forms;
}

/** Every candidate for `model`, in the order the registry tries them. */
export function candidates(model: string): Candidate[] {
  const out: Candidate[] = [{ id: model, rule: "exact", steps: [], approximate: false }];
  const lower = model.toLowerCase();
  if (lower !== model) out.push({ id: lower, rule: "case-insensitive", steps: [], approximate: false });
  const seen = new Set([model, lower]);
  const bases = [{ id: lower, steps: [] as string[] }];
  for (const form of normalizedForms(lower)) {
    if (seen.has(form.id) || !form.id) continue;
    seen.add(form.id);
    bases.push(form);
    out.push({ id: form.id, rule: "normalized", steps: form.steps, approximate: false });
  }
  const fallbacks: Candidate[] = [];
  for (const base of bases) {
    for (const rule of SUFFIX_RULES) {
      const m = rule.re.exec(base.id);
      if (!m || (rule.valid && !rule.valid(m))) continue;
      const id = base.id.slice(0, m.index);
      if (!id || seen.has(id)) continue;
      seen.add(id);
      const candidate: Candidate = {
        id,
        rule: rule.approximate ? "fallback" : "suffix-stripped",
        steps: [...base.steps, `stripped ${rule.what} "${m[0]}"`],
        approximate: rule.approximate,
      };
      (rule.approximate ? fallbacks : out).push(candidate);
    }
  }
  return out.concat(fallbacks);
}
