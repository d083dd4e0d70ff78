// headers: harden every response: X-Frame-Options: DENY, X-Content-Type-Options: nosniff,
// and no Server header.
import { CONTINUE, responseRemoveHeader, responseSetHeader } from "../sdk/wasmhooks";
export { wasmhooks_abi_v1 } from "../sdk/wasmhooks";

export function on_response(): i32 {
  responseSetHeader("X-Frame-Options", "DENY");
  responseSetHeader("X-Content-Type-Options", "nosniff");
  responseRemoveHeader("Server"); // NotFound when there is none: fine
  return CONTINUE;
}
