;; add-header.wat: add two headers to every response.
;;
;; on_response runs after the view and sets, replacing any value the view gave them:
;;
;;     X-Powered-By-Hook: wasmhooks
;;     X-Frame-Options: DENY
;;
;; It returns 0, so the (changed) response goes on to the client. It needs no config.
;;
;; Host ABI v1 (docs/abi.md): every string is a UTF-8 (pointer, length) pair into the memory
;; exported below, never NUL-terminated.
(module
  ;; response_set_header(name_ptr, name_len, value_ptr, value_len) -> status
  ;; Sets (replaces) a header on the response; 0 on success, a negative status otherwise.
  (import "wasmhooks" "response_set_header"
    (func $response_set_header (param $name i32) (param $name_len i32) (param $value i32)
                               (param $value_len i32) (result i32)))

  ;; The guest's linear memory, exported as "memory" so the host can read the strings.
  (memory (export "memory") 1)

  ;; The strings, at fixed offsets:
  ;;    0  "X-Powered-By-Hook"  (17 bytes)
  ;;   32  "wasmhooks"          (9 bytes)
  ;;   48  "X-Frame-Options"    (15 bytes)
  ;;   64  "DENY"               (4 bytes)
  (data (i32.const 0) "X-Powered-By-Hook")
  (data (i32.const 32) "wasmhooks")
  (data (i32.const 48) "X-Frame-Options")
  (data (i32.const 64) "DENY")

  ;; The ABI marker: its presence says "this module speaks wasmhooks ABI v1". Never called.
  (func (export "wasmhooks_abi_v1"))

  (func (export "on_response") (result i32)
    ;; The names and values are valid constants, so the only status these calls could
    ;; return is 0; they are dropped.
    (drop (call $response_set_header
      (i32.const 0) (i32.const 17)      ;; "X-Powered-By-Hook"
      (i32.const 32) (i32.const 9)))    ;; "wasmhooks"
    (drop (call $response_set_header
      (i32.const 48) (i32.const 15)     ;; "X-Frame-Options"
      (i32.const 64) (i32.const 4)))    ;; "DENY"
    ;; 0: carry on with the response.
    (i32.const 0))
)
