// rewrite: bound with the pattern ^/items/(?P<item>[^/]+)/$. Before the view, pass the item to
// it as the request header X-Item; after the view, prefix the body with "item <item>: ".
import {
  CONTINUE, requestSetHeader, responseBody, responseSetBodyBytes, routeParam,
} from "../sdk/wasmhooks";
export { wasmhooks_abi_v1 } from "../sdk/wasmhooks";

export function on_request(): i32 {
  let item = routeParam("item");
  if (item !== null) requestSetHeader("X-Item", item);
  return CONTINUE;
}

export function on_response(): i32 {
  let item = routeParam("item");
  if (item === null) return CONTINUE; // no such group
  let body = responseBody();
  if (body === null) return CONTINUE; // a streaming response
  // The body is bytes, not necessarily UTF-8: join bytes, not strings.
  let prefix = Uint8Array.wrap(String.UTF8.encode("item " + item + ": "));
  let joined = new Uint8Array(prefix.length + body.length);
  joined.set(prefix, 0);
  joined.set<Uint8Array>(body, prefix.length);
  responseSetBodyBytes(joined);
  return CONTINUE;
}
