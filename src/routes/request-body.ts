import { ClientError } from "../errors.ts";

/**
 * Reads a JSON request body with a size cap: a declared Content-Length over the cap is refused
 * before reading, and a chunked body is cut off as soon as it passes the cap (413 either way).
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length"));
  const tooLarge = () =>
    new ClientError(413, `Request body too large: the limit is ${maxBytes} bytes.`, "invalid_request_error", null, "request_too_large");
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!request.body) throw new ClientError(400, "The request body is empty; send a JSON object.");
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (size === 0) throw new ClientError(400, "The request body is empty; send a JSON object.");
  const text = new TextDecoder().decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  try {
    return JSON.parse(text);
  } catch {
    throw new ClientError(400, "We could not parse the JSON body of your request.");
  }
}
