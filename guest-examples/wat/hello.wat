;; hello.wat: a function for views, called with wasmhooks.call.
;;
;;     wasmhooks.call("hello", "greet", input=b"world")  ->  b"hello, world"
;;
;; `greet` reads the call's input and writes "hello, " followed by the input as the call's
;; output. Any exported function of type () -> i32 other than the entry points can be called
;; this way; it returns 0 for success and anything else for failure.
;;
;; It also shows the buffer convention of every reading function: `input` copies at most
;; `cap` bytes and returns the full length, so a guest whose buffer was too small makes room
;; and asks again.
(module
  ;; input(buf, cap) -> len: the bytes given to wasmhooks.call.
  (import "wasmhooks" "input"
    (func $input (param $buf i32) (param $cap i32) (result i32)))
  ;; output(ptr, len) -> status: appends bytes to what wasmhooks.call returns.
  (import "wasmhooks" "output"
    (func $output (param $ptr i32) (param $len i32) (result i32)))

  (memory (export "memory") 1)

  ;; Memory layout:
  ;;      0  "hello, "   (7 bytes)
  ;;   1024  the input   (first try: up to 64512 bytes, the rest of the first page;
  ;;                      longer input grows memory)
  (data (i32.const 0) "hello, ")

  ;; The ABI marker: its presence says "this module speaks wasmhooks ABI v1". Never called.
  (func (export "wasmhooks_abi_v1"))

  (func (export "greet") (result i32)
    (local $len i32)     ;; full length of the input
    (local $pages i32)   ;; pages needed to hold 1024 + len bytes

    ;; 1. Read the input into 1024, up to the end of the first page.
    (local.set $len (call $input (i32.const 1024) (i32.const 64512)))

    ;; 2. If it did not fit, make sure memory holds 1024 + len bytes, and read it again.
    ;;    (The instance may be reused, so memory may already be big enough from an earlier
    ;;    call: grow only by what is missing.)
    (if (i32.gt_u (local.get $len) (i32.const 64512))
      (then
        ;; Pages needed in all, rounding up.
        (local.set $pages
          (i32.div_u (i32.add (i32.add (local.get $len) (i32.const 1024)) (i32.const 65535))
                     (i32.const 65536)))
        (if (i32.gt_u (local.get $pages) (memory.size))
          (then
            ;; memory.grow returns -1 when the memory cap does not allow it: give up
            ;; with a non-zero result, which the host reports as a failure.
            (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
              (then (return (i32.const 1))))))
        (drop (call $input (i32.const 1024) (local.get $len)))))

    ;; 3. Write "hello, " and then the input. `output` returns 0, or a negative status
    ;;    (-4 when the output would pass the host's limit); pass a failure on.
    (if (call $output (i32.const 0) (i32.const 7))
      (then (return (i32.const 1))))
    (if (call $output (i32.const 1024) (local.get $len))
      (then (return (i32.const 1))))

    ;; 4. 0: success. wasmhooks.call returns the output written above.
    (i32.const 0))
)
