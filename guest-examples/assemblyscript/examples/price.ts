// price: a function for views, wasmhooks.call("price", "price", input=b'{"amount": 1250, "quantity": 12}').
// Each field's value is 1+ ASCII digits, at most 9223372036854775807 (i64 max), followed, after
// optional whitespace, by ',' or '}'. total = amount * quantity, which must not exceed i64 max
// (checked before multiplying); from 10 items on, less 10% rounded down: floor(total * 9 / 10),
// computed as 9 * (total / 10) + (9 * (total % 10)) / 10 so it cannot overflow. Writes
// {"total":<total>}, or {"error":"bad input"} when a field is missing, not such a number, or the
// product overflows.
import { CONTINUE, input, jsonUint, output } from "../sdk/wasmhooks";
export { wasmhooks_abi_v1 } from "../sdk/wasmhooks";

export function price(): i32 {
  let json = input();
  let amount = jsonUint(json, "amount");
  let quantity = jsonUint(json, "quantity");
  if (amount < 0 || quantity < 0 || (quantity != 0 && amount > i64.MAX_VALUE / quantity)) {
    output('{"error":"bad input"}');
    return CONTINUE;
  }
  let total = amount * quantity;
  if (quantity >= 10) total = 9 * (total / 10) + (9 * (total % 10)) / 10;
  output('{"total":' + total.toString() + "}");
  return CONTINUE;
}
