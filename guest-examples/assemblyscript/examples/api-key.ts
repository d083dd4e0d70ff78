// api-key: let a request through only when its X-Api-Key header is one of the keys in the
// binding's config, a comma-separated list such as "k1,k2" (no spaces; empty keys never match).
// Otherwise answer 401 with a JSON error.
import {
  CONTINUE, RESPOND, config, requestHeader, responseSetBody, responseSetHeader, responseSetStatus,
} from "../sdk/wasmhooks";
export { wasmhooks_abi_v1 } from "../sdk/wasmhooks";

export function on_request(): i32 {
  let key = requestHeader("X-Api-Key");
  if (key !== null && key.length > 0) {
    let keys = config().split(",");
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] == key) return CONTINUE;
    }
  }
  responseSetStatus(401);
  responseSetHeader("Content-Type", "application/json");
  responseSetBody('{"error":"missing or invalid API key"}');
  return RESPOND;
}
