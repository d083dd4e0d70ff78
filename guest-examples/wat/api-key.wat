;; api-key.wat: refuse requests that do not carry the right API key.
;;
;; on_request reads the request header X-Api-Key and compares it, byte for byte, with the
;; binding's `config`. When they are equal it returns 0 and the request goes on to the view.
;; Otherwise it answers at once (returns 1) with
;;
;;     403 Forbidden
;;     Content-Type: application/json
;;
;;     {"error": "missing or wrong API key"}
;;
;; It fails closed: an empty config, a missing header, and keys longer than 4096 bytes are
;; all refused. Bind it with the key as the binding's config, for example
;; {"module": "api-key", "pattern": r"^/api/", "config": "s3cret"}.
;;
;; Host ABI v1 (docs/abi.md): every string is a UTF-8 (pointer, length) pair into the memory
;; exported below. Reading functions such as `config` and `request_header` copy at most `cap`
;; bytes and return the full length of the value (-1 when it does not exist).
(module
  ;; The host functions this guest uses, all from the import module "wasmhooks".
  (import "wasmhooks" "request_header"
    (func $request_header (param $name i32) (param $name_len i32) (param $buf i32) (param $cap i32)
                          (result i32)))
  (import "wasmhooks" "config"
    (func $config (param $buf i32) (param $cap i32) (result i32)))
  (import "wasmhooks" "response_set_status"
    (func $response_set_status (param $status i32) (result i32)))
  (import "wasmhooks" "response_set_header"
    (func $response_set_header (param $name i32) (param $name_len i32) (param $value i32)
                               (param $value_len i32) (result i32)))
  (import "wasmhooks" "response_set_body"
    (func $response_set_body (param $ptr i32) (param $len i32) (result i32)))

  ;; One 64 KiB page is plenty. The host reads and writes guest memory through this export.
  (memory (export "memory") 1)

  ;; Memory layout:
  ;;     0  "X-Api-Key"                              (9 bytes)
  ;;    16  "Content-Type"                           (12 bytes)
  ;;    32  "application/json"                       (16 bytes)
  ;;    64  {"error": "missing or wrong API key"}    (37 bytes)
  ;;  1024  the binding's config                     (up to 4096 bytes)
  ;;  5120  the X-Api-Key header value               (up to 4096 bytes)
  (data (i32.const 0) "X-Api-Key")
  (data (i32.const 16) "Content-Type")
  (data (i32.const 32) "application/json")
  (data (i32.const 64) "{\"error\": \"missing or wrong API key\"}")

  ;; The ABI marker: its presence says "this module speaks wasmhooks ABI v1". Never called.
  (func (export "wasmhooks_abi_v1"))

  ;; Build the 403 answer and tell the host to send it (return 1).
  ;; The arguments are constants the host accepts, so the statuses (0) are not checked.
  (func $refuse (result i32)
    (drop (call $response_set_status (i32.const 403)))
    (drop (call $response_set_header
      (i32.const 16) (i32.const 12)     ;; "Content-Type"
      (i32.const 32) (i32.const 16)))   ;; "application/json"
    (drop (call $response_set_body (i32.const 64) (i32.const 37)))
    (i32.const 1))

  (func (export "on_request") (result i32)
    (local $len i32)    ;; length of the configured key
    (local $i i32)      ;; loop index
    (local $diff i32)   ;; OR of every byte difference; 0 means equal

    ;; 1. Read the configured key into 1024. `config` returns its full length.
    (local.set $len (call $config (i32.const 1024) (i32.const 4096)))
    ;; An empty key would let an empty header in, and a key that did not fit cannot be
    ;; compared: refuse both.
    (if (i32.or (i32.eqz (local.get $len)) (i32.gt_u (local.get $len) (i32.const 4096)))
      (then (return (call $refuse))))

    ;; 2. Read the header into 5120. -1 means the request has no X-Api-Key header; any
    ;;    other length than the key's means it cannot be equal. Both are refused.
    (if (i32.ne
          (call $request_header (i32.const 0) (i32.const 9) (i32.const 5120) (i32.const 4096))
          (local.get $len))
      (then (return (call $refuse))))

    ;; 3. Compare every byte, without stopping at the first difference, so the time taken
    ;;    does not tell how much of a guessed key was right.
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $diff
          (i32.or (local.get $diff)
            (i32.xor
              (i32.load8_u (i32.add (i32.const 1024) (local.get $i)))
              (i32.load8_u (i32.add (i32.const 5120) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (local.get $diff)
      (then (return (call $refuse))))

    ;; 4. The key matches: 0 lets the request continue to the view.
    (i32.const 0))
)
