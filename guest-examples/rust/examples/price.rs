//! price: a function for views, `wasmhooks.call("price", "price", input)`.
//!
//! The input is JSON such as `{"amount": 1250, "quantity": 12}`. The output is
//! `{"total":<amount * quantity>}`, with 10% off (rounded down) from 10 items, or
//! `{"error":"bad input"}` when a field is missing or not a non-negative integer.

#[path = "../wasmhooks.rs"]
mod wasmhooks;

#[no_mangle]
pub extern "C" fn price() -> i32 {
    let input = wasmhooks::input();
    let amount = wasmhooks::json_u64_field(&input, "amount");
    let quantity = wasmhooks::json_u64_field(&input, "quantity");
    let out = match (amount, quantity) {
        (Some(amount), Some(quantity)) => {
            let mut total = amount.wrapping_mul(quantity);
            if quantity >= 10 {
                total = total.wrapping_mul(9) / 10;
            }
            let mut s = String::from("{\"total\":");
            s.push_str(&wasmhooks::utoa(total));
            s.push('}');
            s
        }
        _ => String::from("{\"error\":\"bad input\"}"),
    };
    if wasmhooks::output(out.as_bytes()).is_err() {
        return wasmhooks::FAILED;
    }
    wasmhooks::OK
}
