// The spec: one internal vocabulary between inbound dialects and upstream adapters.
// Types only. Everything depends on this file; it depends on nothing.

/** Adapter *type* ids. A user's configured provider instances have their own (string) ids. */
export type ProviderId = 'openai' | 'deepseek' | 'grok' | 'openai-compatible' | 'gemini' | 'anthropic';

/**
 * Opaque, provider-tagged state that must be handed back to the same provider on a later turn
 * (Gemini `thoughtSignature`, Anthropic thinking `signature`, ...). Other providers ignore it.
 */
export type ProviderMetadata = Partial<Record<ProviderId, Record<string, unknown>>>;

export type ContentPart =
  | {
      type: 'text';
      /** The text. */
      text: string;
    }
  | {
      type: 'image';
      /** `https://…` or `data:<mediaType>;base64,…`. */
      url: string;
      /** MIME type when known (always derivable from a data: URL). */
      mediaType?: string;
      /** OpenAI's resolution hint; providers without an equivalent ignore it. */
      detail?: 'auto' | 'low' | 'high';
    };

export type ToolCall = {
  /** Call id; echoed back by the matching `tool` message. */
  id: string;
  /** Function name. */
  name: string;
  /** Raw JSON text as produced by the model (may be invalid JSON). */
  arguments: string;
  /** Opaque per-call state to replay (e.g. Gemini thoughtSignature on a functionCall part). */
  providerMetadata?: ProviderMetadata;
};

export type ChatMessage =
  | {
      role: 'system';
      /** Instruction text. */
      content: string;
      /** True when the client sent role `developer`; OpenAI upstreams get that role back. */
      developer?: boolean;
    }
  | {
      role: 'user';
      /** Plain text or multimodal parts. */
      content: string | ContentPart[];
    }
  | {
      role: 'assistant';
      /** Visible text; null when the turn only called tools. */
      content: string | null;
      /** Tool calls made in this turn. */
      toolCalls?: ToolCall[];
      /** Reasoning text the model produced in this turn (DeepSeek/xAI reasoning_content, thinking). */
      reasoning?: string;
      /** Opaque message-level state to replay (e.g. Anthropic thinking signatures). */
      providerMetadata?: ProviderMetadata;
    }
  | {
      role: 'tool';
      /** Id of the ToolCall this answers. */
      toolCallId: string;
      /** Tool output (text; JSON is passed as text). */
      content: string;
    };

export type ToolDefinition = {
  /** Function name. */
  name: string;
  /** What the function does, for the model. */
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
  /** OpenAI structured-outputs strictness flag; passed where supported. */
  strict?: boolean;
};

/** OpenAI's reasoning_effort values; adapters map or drop what their upstream lacks. */
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh';

/** Normalised request, after routing: `model` is already the upstream model id. */
export type ChatRequest = {
  /** Upstream model id. */
  model: string;
  /** Conversation, oldest first. */
  messages: ChatMessage[];
  /** Cap on generated tokens (reasoning included where the upstream counts it). */
  maxOutputTokens?: number;
  /** Sampling temperature. */
  temperature?: number;
  /** Nucleus sampling. */
  topP?: number;
  /** Stop sequences. */
  stop?: string[];
  /** Deterministic sampling seed. */
  seed?: number;
  /** Tools the model may call. */
  tools?: ToolDefinition[];
  /** Tool selection policy. */
  toolChoice?: 'auto' | 'none' | 'required' | { name: string };
  /** Whether several tool calls may be issued in one turn. */
  parallelToolCalls?: boolean;
  /** Output format; `json` without `schema` is JSON mode, with `schema` is structured output. */
  responseFormat?:
    | { type: 'text' }
    | { type: 'json'; schema?: Record<string, unknown>; name?: string; description?: string; strict?: boolean };
  /** Reasoning effort. */
  reasoningEffort?: ReasoningEffort;
  /** End-user identifier for upstream abuse monitoring. */
  user?: string;
  /**
   * Unmodelled top-level request parameters (e.g. `frequency_penalty`, `logit_bias`, `metadata`).
   * OpenAI-compatible upstreams receive them unchanged; modelled keys are never overridden.
   */
  extra?: Record<string, unknown>;
  /** Escape hatch, keyed by provider id; each adapter reads only its own key. */
  providerOptions?: Partial<Record<ProviderId, Record<string, unknown>>>;
};

export type FinishReason = {
  /** Normalised reason. */
  unified: 'stop' | 'length' | 'tool-calls' | 'content-filter' | 'error' | 'other';
  /** Upstream's value, verbatim. */
  raw: string | undefined;
};

/** Token usage in OpenAI semantics (see PROTOCOLS.md §8). */
export type Usage = {
  /** All input tokens, INCLUDING cache reads and cache writes. */
  inputTokens?: number;
  /** Input tokens served from the prompt cache (subset of inputTokens). */
  cachedInputTokens?: number;
  /** Input tokens written to the cache (Anthropic; subset of inputTokens, priced separately). */
  cacheWriteInputTokens?: number;
  /** All output tokens, INCLUDING reasoning tokens (xAI/Gemini report them on top: added here). */
  outputTokens?: number;
  /** Reasoning tokens (subset of outputTokens). */
  reasoningTokens?: number;
  /** Provider's usage object, verbatim, for the request log. */
  raw?: unknown;
  /** True when counted or guessed locally because the upstream reported nothing. */
  estimated?: boolean;
};

export type Warning =
  | {
      type: 'unsupported-setting';
      /** The ChatRequest key (or wire key) that was dropped or changed. */
      setting: keyof ChatRequest | (string & {});
      /** Why / what was done instead. */
      detail?: string;
    }
  | {
      type: 'other';
      /** Human-readable note. */
      message: string;
    };

/** Normalised upstream error classes (PROTOCOLS.md §9). */
export type ProviderErrorClass =
  | 'authentication'
  | 'permission'
  | 'rate_limit'
  | 'quota'
  | 'context_length'
  | 'bad_request'
  | 'model_not_found'
  | 'unsupported_input'
  | 'content_filter'
  | 'overloaded'
  | 'upstream_5xx'
  | 'timeout'
  | 'network'
  | 'invalid_response';

export type ProviderErrorInfo = {
  /** Upstream's message (never contains the API key). */
  message: string;
  /** Normalised class. */
  errorClass: ProviderErrorClass;
  /** Worth retrying / failing over: 408/409/429/5xx/timeouts by default, refined per class. */
  retryable: boolean;
  /** Upstream HTTP status, if the error came with one (absent for in-stream errors). */
  status?: number;
  /** Provider's error code, verbatim. */
  code?: string;
  /** Provider's error type, verbatim. */
  type?: string;
  /** Offending parameter, when the provider names one. */
  param?: string;
  /** Upstream's retry hint in ms (retry-after-ms, retry-after, or message text); uncapped. */
  retryAfterMs?: number;
};

/** The one stream vocabulary every adapter emits and every route/recorder consumes. */
export type StreamEvent =
  | {
      type: 'response-start';
      /** Settings the adapter dropped or changed. */
      warnings: Warning[];
      /** Upstream response id. */
      id?: string;
      /** Model id the upstream reports (may be a dated snapshot of the requested one). */
      model?: string;
    }
  | {
      type: 'text-delta';
      /** Visible text fragment. */
      delta: string;
    }
  | {
      type: 'reasoning-delta';
      /** Reasoning text fragment (may be '' when the event only carries metadata). */
      delta: string;
      /** Opaque state produced with the reasoning (e.g. a thinking signature); merged per provider. */
      providerMetadata?: ProviderMetadata;
    }
  | {
      type: 'tool-call-delta';
      /** Position of the call in this turn (0, 1, …); fragments with the same index concatenate. */
      index: number;
      /** Call id (first fragment). */
      id?: string;
      /** Function name (first fragment). */
      name?: string;
      /** Fragment of the JSON arguments text. */
      argumentsDelta: string;
      /** Opaque per-call state (e.g. Gemini thoughtSignature); merged per provider. */
      providerMetadata?: ProviderMetadata;
    }
  | {
      type: 'finish';
      /** Why generation stopped. */
      finishReason: FinishReason;
      /** Final usage (empty object when the upstream reported none). */
      usage: Usage;
      /** Opaque message-level state to replay on the next turn; merged per provider. */
      providerMetadata?: ProviderMetadata;
    }
  | {
      type: 'error';
      /** What went wrong; always followed by a `finish` with unified 'error'. */
      error: ProviderErrorInfo;
    }
  | {
      /**
       * Usage the upstream has reported so far, before `finish` (cumulative: each replaces the
       * last). Anthropic reports input and cache tokens at the start, Gemini on every chunk; a
       * stream cut short keeps them instead of an estimate. Encoders send nothing for it.
       */
      type: 'usage';
      usage: Usage;
    };

/** A whole reply: what a non-streaming client receives and what the request log stores. */
export type ChatResult = {
  /** Upstream response id. */
  id?: string;
  /** Model id the upstream reports. */
  model?: string;
  /** Visible text ('' when none). */
  text: string;
  /** Reasoning text, when the upstream returned any. */
  reasoning?: string;
  /** Tool calls in index order. */
  toolCalls: ToolCall[];
  /** Why generation stopped. */
  finishReason: FinishReason;
  /** Token usage. */
  usage: Usage;
  /** Settings the adapter dropped or changed. */
  warnings: Warning[];
  /** Opaque message-level state to store on the assistant message for the next turn. */
  providerMetadata?: ProviderMetadata;
  /** Set when the stream failed after output (finishReason.unified is then 'error'). */
  error?: ProviderErrorInfo;
};
