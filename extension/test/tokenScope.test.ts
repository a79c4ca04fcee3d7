import assert from "node:assert/strict";
import { test } from "node:test";
import { MLFLOW_TOKEN_ENV, serverTokenEnv, TOKEN_ENV, TOKEN_URI_ENV, tokenScope } from "../src/common/tokenScope";

test("the token's server is the user's http(s) tracking URI, else the environment's", () => {
  assert.equal(tokenScope("https://mlflow.example.com", "http://other:5000"), "https://mlflow.example.com");
  assert.equal(tokenScope(undefined, "http://127.0.0.1:5000"), "http://127.0.0.1:5000");
  assert.equal(tokenScope("  ", "http://127.0.0.1:5000"), "http://127.0.0.1:5000");
});

test("a local store, or no URI at all, names no server to send the token to", () => {
  assert.equal(tokenScope("sqlite:///mlflow.db", "https://mlflow.example.com"), undefined);
  assert.equal(tokenScope(undefined, "file:///tmp/mlruns"), undefined);
  assert.equal(tokenScope(undefined, undefined), undefined);
  assert.equal(tokenScope("not a uri", undefined), undefined);
});

test("an untrusted workspace's server gets no token, not even one from the shell", () => {
  const env = serverTokenEnv("tok", false, "https://mlflow.example.com");
  assert.deepEqual(env, { [MLFLOW_TOKEN_ENV]: undefined, [TOKEN_ENV]: undefined, [TOKEN_URI_ENV]: undefined });
  // What spawn receives: process.env with these spread over it.
  const spawned = { ...{ MLFLOW_TRACKING_TOKEN: "from-shell" }, ...env };
  assert.equal(spawned.MLFLOW_TRACKING_TOKEN, undefined);
});

test("a trusted workspace's server gets the token with the one server it is for", () => {
  assert.deepEqual(serverTokenEnv("tok", true, "https://mlflow.example.com"), {
    [TOKEN_ENV]: "tok",
    [TOKEN_URI_ENV]: "https://mlflow.example.com",
  });
  assert.deepEqual(serverTokenEnv("tok", true, undefined), { [TOKEN_ENV]: undefined, [TOKEN_URI_ENV]: undefined });
  assert.deepEqual(serverTokenEnv(undefined, true, "https://x"), { [TOKEN_ENV]: undefined, [TOKEN_URI_ENV]: undefined });
});
