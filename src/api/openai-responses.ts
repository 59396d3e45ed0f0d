// Edge codec for `POST /v1/responses` (STYLE.md §1): the OpenAI Responses API, as the `openai` SDK's
// `responses.create` / `responses.stream` and Codex CLI speak it, served statelessly on any provider.
// Pure functions: no I/O, no Elysia. The route's part:
//   parseResponsesRequest(body) → 400 with `providerErrorToOpenAI`'s envelope on failure
//   ({error: {message, type: 'invalid_request_error', param, code}}); otherwise route `value.model`
//   and run `value.request`; record `value.warnings`.
//   Non-streaming: accumulate → toResponseObject(result, { id: `resp_…`, created, model, request: value }).
//   Streaming: createResponsesStreamEncoder(ctx) and formatResponsesSSE for each wire event
//   (`content-type: text/event-stream`; no `[DONE]` terminator on this API). Upstream failures before
//   the stream starts use providerErrorToOpenAI, as for chat completions.
export { NAMESPACE_SEPARATOR } from './openai-responses-input.ts';
export {
  type ParsedResponsesRequest,
  type ResponsesEcho,
  type ResponsesParseResult,
  parseResponsesRequest,
} from './openai-responses-parse.ts';
export { type RequestError, responsesRequestSchema } from './openai-responses-schema.ts';
export {
  type ResponseContext,
  toResponseObject,
  toResponsesUsage,
} from './openai-responses-object.ts';
export {
  type ResponsesStreamEncoder,
  type ResponsesStreamEvent,
  createResponsesStreamEncoder,
  formatResponsesSSE,
} from './openai-responses-stream.ts';
export { STATE_PREFIX, decodeReasoningState, encodeReasoningState } from './openai-responses-state.ts';
export { type OpenAIErrorResponse, providerErrorToOpenAI } from './openai-errors.ts';
