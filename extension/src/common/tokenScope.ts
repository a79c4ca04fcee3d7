// Which environment the language server gets for the tracking server's token. Kept free of the
// `vscode` module so the rule is unit-tested: the token goes to the server only in a trusted
// workspace, and always with the URI of the one server it belongs to (the server then sends it
// to that origin only: mlworkbench/tracking/tracking_token.py).

/** The server's variables (names shared with mlworkbench/tracking/tracking_token.py). */
export const TOKEN_ENV = "MLWORKBENCH_TRACKING_TOKEN";
export const TOKEN_URI_ENV = "MLWORKBENCH_TRACKING_TOKEN_URI";
/** MLflow's own variable: never handed over as such (MLflow would send it to any host). */
export const MLFLOW_TOKEN_ENV = "MLFLOW_TRACKING_TOKEN";

/** An http(s) URI the token may be scoped to; undefined for anything else. */
export function tokenScope(userSettingUri: string | undefined, envUri: string | undefined): string | undefined {
  for (const candidate of [userSettingUri, envUri]) {
    const value = candidate?.trim();
    if (!value) {
      continue;
    }
    try {
      const url = new URL(value);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.hostname) {
        return value;
      }
    } catch {
      // not a URL: a sqlite or file store has no server to send a token to
    }
    return undefined; // the first URI set is the one in use; never fall through to another
  }
  return undefined;
}

/**
 * Entries to spread over the server's environment. `undefined` values unset a variable
 * (Node's spawn drops them), so a token inherited from the shell does not reach an untrusted
 * workspace's server either.
 */
export function serverTokenEnv(
  token: string | undefined,
  trusted: boolean,
  scope: string | undefined,
): Record<string, string | undefined> {
  if (!trusted) {
    return { [MLFLOW_TOKEN_ENV]: undefined, [TOKEN_ENV]: undefined, [TOKEN_URI_ENV]: undefined };
  }
  if (!token || !scope) {
    return { [TOKEN_ENV]: undefined, [TOKEN_URI_ENV]: undefined };
  }
  return { [TOKEN_ENV]: token, [TOKEN_URI_ENV]: scope };
}
