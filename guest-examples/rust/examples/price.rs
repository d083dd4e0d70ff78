//! price: a function for views, `wasmhooks.call("price", "price", input)`.
//!
//! The input is JSON such as `{"amount": 1250, "quantity": 12}`. The output is
//! `{"total":<amount * quantity>}`, with 10% off (rounded down) from 10 items, or
//! `{"error":"bad input"}` otherwise. Each value must be one or more ASCII digits, at most
//! i64::MAX (9223372036854775807), followed after optional whitespace by `,` or `}`; so a
//! missing field, a sign, a fraction, a string, a truncated object or a missing comma is bad
//! input, and so is a total `amount * quantity` above i64::MAX. The discount is computed as
//! `9 * (total / 10) + (9 * (total % 10)) / 10`, which equals floor(total * 9 / 10) without
//! overflowing.

#[path = "../wasmhooks.rs"]
mod wasmhooks;

fn total(input: &[u8]) -> Option<i64> {
    let amount = wasmhooks::json_i64_field(input, "amount")?;
    let quantity = wasmhooks::json_i64_field(input, "quantity")?;
    let total = amount.checked_mul(quantity)?;
    if quantity >= 10 {
        Some(9 * (total / 10) + (9 * (total % 10)) / 10)
    } else {
        Some(total)
    }
}

#[no_mangle]
pub extern "C" fn price() -> i32 {
    let out = match total(&wasmhooks::input()) {
        Some(total) => {
            let mut s = String::from("{\"total\":");
            s.push_str(&wasmhooks::itoa(total));
            s.push('}');
            s
        }
        None => String::from("{\"error\":\"bad input\"}"),
    };
    if wasmhooks::output(out.as_bytes()).is_err() {
        return wasmhooks::FAILED;
    }
    wasmhooks::OK
}
