import { describe, expect, test } from "bun:test";
import { ClientError } from "../errors.ts";
import { readJsonBody } from "./request-body.ts";

const url = "http://gateway.test/v1/chat/completions";
const withLength = (body: string) => new Request(url, { method: "POST", headers: { "content-length": String(Buffer.byteLength(body)) }, body });
/** A body without Content-Length (chunked), delivered in the given pieces. */
const chunked = (parts: string[]) =>
  new Request(url, {
    method: "POST",
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
        controller.close();
      },
    }),
  });
async function refusal(promise: Promise<unknown>): Promise<ClientError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ClientError);
  return error as ClientError;
}

describe("readJsonBody", () => {
  test("a body with a declared length is read and parsed (UTF-8)", async () => {
    expect(await readJsonBody(withLength('{"model":"gpt-4o","content":"héllo ✓"}'), 1000)).toEqual({ model: "gpt-4o", content: "héllo ✓" });
  });

  test("an empty body is a 400, with or without a declared length", async () => {
    for (const request of [withLength(""), new Request(url, { method: "POST" }), chunked([])]) {
      const error = await refusal(readJsonBody(request, 1000));
      expect([error.status, error.message]).toEqual([400, "The request body is empty; send a JSON object."]);
    }
  });

  test("a declared length over the cap is a 413 before anything is read", async () => {
    const request = withLength("x".repeat(2000));
    const error = await refusal(readJsonBody(request, 1000));
    expect([error.status, error.code]).toEqual([413, "request_too_large"]);
    expect(request.bodyUsed).toBe(false);
  });

  test("a chunked body is read up to the cap, and cut off past it", async () => {
    expect(await readJsonBody(chunked(['{"a":', "1}"]), 1000)).toEqual({ a: 1 });
    const error = await refusal(readJsonBody(chunked(["[", "1,".repeat(400), "1]"]), 500));
    expect(error.status).toBe(413);
  });

  test("malformed JSON is a 400 that does not echo the body", async () => {
    const error = await refusal(readJsonBody(withLength('{"secret":"sk-live-123"'), 1000));
    expect([error.status, error.message]).toEqual([400, "We could not parse the JSON body of your request."]);
  });
});
