// price: a function for views, wasmhooks.call("price", "price", input=b'{"amount": 1250, "quantity": 12}').
// total = amount * quantity, less 10% (rounded down) from 10 items on. Writes {"total":<total>},
// or {"error":"bad input"} when a field is missing or not a non-negative integer.
import { CONTINUE, input, jsonUint, output } from "../sdk/wasmhooks";
export { wasmhooks_abi_v1 } from "../sdk/wasmhooks";

export function price(): i32 {
  let json = input();
  let amount = jsonUint(json, "amount");
  let quantity = jsonUint(json, "quantity");
  if (amount < 0 || quantity < 0) {
    output('{"error":"bad input"}');
    return CONTINUE;
  }
  let total = amount * quantity;
  if (quantity >= 10) total = total * 9 / 10;
  output('{"total":' + total.toString() + "}");
  return CONTINUE;
}
