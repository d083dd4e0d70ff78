// flash-sale: admit the first N requests (N = the binding's config, a decimal integer), counted
// in the shared key-value store; answer 429 "sold out" after that. Each admitted request gets
// its place in the request context as "admission".
import {
  CONTINUE, RESPOND, config, contextSet, kvIncr, parseUint, responseSetBody, responseSetHeader,
  responseSetStatus,
} from "../sdk/wasmhooks";
export { wasmhooks_abi_v1 } from "../sdk/wasmhooks";

export function on_request(): i32 {
  let limit = parseUint(config()); // -1 when the config is not a number: everything is sold out
  let n = kvIncr("flash-sale:admitted", 1);
  if (n > limit) {
    responseSetStatus(429);
    responseSetHeader("Content-Type", "text/plain; charset=utf-8");
    responseSetBody("sold out\n");
    return RESPOND;
  }
  contextSet("admission", n.toString());
  return CONTINUE;
}
