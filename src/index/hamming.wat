;; Hamming top-K scan over packed sign bits (BinaryIndex), WebAssembly SIMD.
;;
;; Assembled by `npx tsx scripts/build-hamming-wasm.ts` (wabt) into src/index/hamming-wasm.ts; a unit test
;; assembles this file again and checks the committed bytes. Hand-written WAT rather than AssemblyScript:
;; the kernel is a few dozen SIMD instructions, and WAT keeps every one of them visible (no runtime, no
;; allocator, no compiler version deciding how the loop is vectorized).
;;
;; Memory layout (set up by src/index/hamming-kernel.ts): the codes at offset 0, `rowBytes` per row (a
;; multiple of 4, pad bits zero), followed by at least 16 bytes of slack and a scratch area holding, 16-byte
;; aligned: a mask of `chunks` x 16 bytes (0xff on the bytes of a row, 0 past its end: the last 16-byte load
;; of a row may read the next row), the queries (`chunks` x 16 bytes each, zero past the row), an optional
;; bitset of allowed rows, and per query slot a state of 32 bytes:
;;   +0 thr     the largest distance a new row may have to enter (-1: none can)
;;   +4 cum     number of rows seen with distance <= thr
;;   +8 count   entries in the candidate buffer
;;   +12 hist   address of (dim + 1) i32 counts of the distances of the accepted rows
;;   +16 buf    address of the candidate buffer: `cap` entries of (row i32, distance i32), in row order
;;
;; Selection: rows come in row order, so a new row at distance h belongs to the K nearest (equal distances:
;; the earlier row) exactly when fewer than K rows seen so far are at distance <= h. `thr` is the largest such
;; h, lowered as rows are accepted; a row is accepted when h <= thr. When the buffer is full it is compacted
;; to the current K nearest (every entry at distance <= thr and the earliest at thr + 1), and once more at the
;; end of the scan, so the buffer then holds min(K, rows allowed) entries: the K nearest, in row order.
;; O(n) per query with K + (dim + 1) words of state, instead of a distance per row.
(module
  (memory (export "memory") 1)
  (global $K (mut i32) (i32.const 0))
  (global $cap (mut i32) (i32.const 0))

  ;; Keep only the current K nearest in the buffer of the slot whose state is at $st.
  (func $compact (param $st i32)
    (local $thr i32) (local $extra i32) (local $buf i32) (local $count i32)
    (local $i i32) (local $w i32) (local $h i32) (local $p i32)
    (local.set $thr (i32.load (local.get $st)))
    ;; Entries at thr + 1 still needed: K minus the rows at distance <= thr.
    (local.set $extra (i32.sub (global.get $K) (i32.load offset=4 (local.get $st))))
    (local.set $buf (i32.load offset=16 (local.get $st)))
    (local.set $count (i32.load offset=8 (local.get $st)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $p (i32.add (local.get $buf) (i32.shl (local.get $i) (i32.const 3))))
        (local.set $h (i32.load offset=4 (local.get $p)))
        (if (i32.or
              (i32.le_s (local.get $h) (local.get $thr))
              (i32.and (i32.eq (local.get $h) (i32.add (local.get $thr) (i32.const 1)))
                       (i32.gt_s (local.get $extra) (i32.const 0))))
          (then
            (if (i32.gt_s (local.get $h) (local.get $thr))
              (then (local.set $extra (i32.sub (local.get $extra) (i32.const 1)))))
            (i64.store (i32.add (local.get $buf) (i32.shl (local.get $w) (i32.const 3)))
                       (i64.load (local.get $p)))
            (local.set $w (i32.add (local.get $w) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (i32.store offset=8 (local.get $st) (local.get $w)))

  ;; Append (row, h) to the slot at $st (h <= thr), lower thr while K rows are at distance <= thr; returns thr.
  (func $accept (param $st i32) (param $h i32) (param $row i32) (result i32)
    (local $count i32) (local $hist i32) (local $thr i32) (local $cum i32) (local $p i32)
    (local.set $count (i32.load offset=8 (local.get $st)))
    (local.set $p (i32.add (i32.load offset=16 (local.get $st)) (i32.shl (local.get $count) (i32.const 3))))
    (i32.store (local.get $p) (local.get $row))
    (i32.store offset=4 (local.get $p) (local.get $h))
    (local.set $count (i32.add (local.get $count) (i32.const 1)))
    (i32.store offset=8 (local.get $st) (local.get $count))
    (local.set $hist (i32.load offset=12 (local.get $st)))
    (local.set $p (i32.add (local.get $hist) (i32.shl (local.get $h) (i32.const 2))))
    (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
    (local.set $thr (i32.load (local.get $st)))
    (local.set $cum (i32.add (i32.load offset=4 (local.get $st)) (i32.const 1)))
    (block $low
      (loop $lower
        (br_if $low (i32.lt_s (local.get $cum) (global.get $K)))
        (local.set $cum (i32.sub (local.get $cum)
          (i32.load (i32.add (local.get $hist) (i32.shl (local.get $thr) (i32.const 2))))))
        (local.set $thr (i32.sub (local.get $thr) (i32.const 1)))
        (br $lower)))
    (i32.store (local.get $st) (local.get $thr))
    (i32.store offset=4 (local.get $st) (local.get $cum))
    (if (i32.ge_u (local.get $count) (global.get $cap)) (then (call $compact (local.get $st))))
    (local.get $thr))

  ;; 1 if $row is allowed, else 0 ($allowed < 0: no filter; else the address of a bitset, bit (row & 7) of
  ;; byte row >> 3).
  (func $allowed (param $allowed i32) (param $row i32) (result i32)
    (if (result i32) (i32.lt_s (local.get $allowed) (i32.const 0))
      (then (i32.const 1))
      (else
        (i32.and (i32.const 1)
          (i32.shr_u
            (i32.load8_u (i32.add (local.get $allowed) (i32.shr_u (local.get $row) (i32.const 3))))
            (i32.and (local.get $row) (i32.const 7)))))))

  ;; Four queries per pass over the codes (each 16-byte load of a row serves four XOR-popcounts). Query s
  ;; is at $q + s x chunks x 16, its state at $st + 32 s. Bytes count in u8 lanes for up to 31 chunks
  ;; (8 x 31 < 256), then widen into u16 lanes; every partial sum is at most the distance, so u16 lanes do
  ;; not overflow for dim <= 65535 (the caller's limit).
  (func (export "scan4") (param $n i32) (param $rowBytes i32) (param $chunks i32) (param $q i32)
    (param $mask i32) (param $allowed i32) (param $st i32) (param $K i32) (param $cap i32)
    (local $row i32) (local $p i32) (local $c i32) (local $g i32) (local $off i32) (local $qs i32)
    (local $h i32) (local $q1 i32) (local $q2 i32) (local $q3 i32) (local $full i32) (local $tail i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $x v128) (local $m v128) (local $thr v128) (local $dist v128) (local $t0 v128) (local $t1 v128)
    (global.set $K (local.get $K))
    (global.set $cap (local.get $cap))
    (local.set $full (i32.shr_u (local.get $rowBytes) (i32.const 4)))
    (local.set $tail (i32.and (local.get $rowBytes) (i32.const 15)))
    (local.set $qs (i32.shl (local.get $chunks) (i32.const 4)))
    (local.set $q1 (i32.add (local.get $q) (local.get $qs)))
    (local.set $q2 (i32.add (local.get $q1) (local.get $qs)))
    (local.set $q3 (i32.add (local.get $q2) (local.get $qs)))
    (local.set $thr (i32x4.splat (i32.load (local.get $st))))
    (local.set $thr (i32x4.replace_lane 1 (local.get $thr) (i32.load offset=32 (local.get $st))))
    (local.set $thr (i32x4.replace_lane 2 (local.get $thr) (i32.load offset=64 (local.get $st))))
    (local.set $thr (i32x4.replace_lane 3 (local.get $thr) (i32.load offset=96 (local.get $st))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $n)))
        (block $next
          (local.set $w0 (v128.const i64x2 0 0))
          (local.set $w1 (v128.const i64x2 0 0))
          (local.set $w2 (v128.const i64x2 0 0))
          (local.set $w3 (v128.const i64x2 0 0))
          (local.set $off (i32.const 0))
          (local.set $c (i32.const 0))
          (if (local.get $full) (then
          (loop $groups
            (local.set $a0 (v128.const i64x2 0 0))
            (local.set $a1 (v128.const i64x2 0 0))
            (local.set $a2 (v128.const i64x2 0 0))
            (local.set $a3 (v128.const i64x2 0 0))
            (local.set $g (i32.sub (local.get $full) (local.get $c)))
            (local.set $g (select (local.get $g) (i32.const 31) (i32.lt_u (local.get $g) (i32.const 31))))
            (local.set $c (i32.add (local.get $c) (local.get $g)))
            (loop $chunk
              (local.set $x (v128.load (i32.add (local.get $p) (local.get $off))))
              (local.set $a0 (i8x16.add (local.get $a0) (i8x16.popcnt
                (v128.xor (local.get $x) (v128.load (i32.add (local.get $q) (local.get $off)))))))
              (local.set $a1 (i8x16.add (local.get $a1) (i8x16.popcnt
                (v128.xor (local.get $x) (v128.load (i32.add (local.get $q1) (local.get $off)))))))
              (local.set $a2 (i8x16.add (local.get $a2) (i8x16.popcnt
                (v128.xor (local.get $x) (v128.load (i32.add (local.get $q2) (local.get $off)))))))
              (local.set $a3 (i8x16.add (local.get $a3) (i8x16.popcnt
                (v128.xor (local.get $x) (v128.load (i32.add (local.get $q3) (local.get $off)))))))
              (local.set $off (i32.add (local.get $off) (i32.const 16)))
              (local.set $g (i32.sub (local.get $g) (i32.const 1)))
              (br_if $chunk (local.get $g)))
            (local.set $w0 (i16x8.add (local.get $w0) (i16x8.extadd_pairwise_i8x16_u (local.get $a0))))
            (local.set $w1 (i16x8.add (local.get $w1) (i16x8.extadd_pairwise_i8x16_u (local.get $a1))))
            (local.set $w2 (i16x8.add (local.get $w2) (i16x8.extadd_pairwise_i8x16_u (local.get $a2))))
            (local.set $w3 (i16x8.add (local.get $w3) (i16x8.extadd_pairwise_i8x16_u (local.get $a3))))
            (br_if $groups (i32.lt_u (local.get $c) (local.get $full))))))
          ;; A row that does not end on 16 bytes: its last load is masked to the row's bytes.
          (if (local.get $tail) (then
            (local.set $x (v128.load (i32.add (local.get $p) (local.get $off))))
            (local.set $m (v128.load (i32.add (local.get $mask) (local.get $off))))
            (local.set $w0 (i16x8.add (local.get $w0) (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.and (local.get $m)
              (v128.xor (local.get $x) (v128.load (i32.add (local.get $q) (local.get $off)))))))))
            (local.set $w1 (i16x8.add (local.get $w1) (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.and (local.get $m)
              (v128.xor (local.get $x) (v128.load (i32.add (local.get $q1) (local.get $off)))))))))
            (local.set $w2 (i16x8.add (local.get $w2) (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.and (local.get $m)
              (v128.xor (local.get $x) (v128.load (i32.add (local.get $q2) (local.get $off)))))))))
            (local.set $w3 (i16x8.add (local.get $w3) (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.and (local.get $m)
              (v128.xor (local.get $x) (v128.load (i32.add (local.get $q3) (local.get $off)))))))))))
          ;; Horizontal sums of the four u16x8 accumulators at once: pairwise adds across them.
          (local.set $t0 (i16x8.add
            (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $w0) (local.get $w1))
            (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $w0) (local.get $w1))))
          (local.set $t1 (i16x8.add
            (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $w2) (local.get $w3))
            (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $w2) (local.get $w3))))
          (local.set $dist (i32x4.extadd_pairwise_i16x8_u (i16x8.add
            (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $t0) (local.get $t1))
            (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $t0) (local.get $t1)))))
          (br_if $next (i32.eqz (v128.any_true (i32x4.le_s (local.get $dist) (local.get $thr)))))
          ;; The filter is looked at only here, for the few rows near enough to enter.
          (br_if $next (i32.eqz (call $allowed (local.get $allowed) (local.get $row))))
          (local.set $h (i32x4.extract_lane 0 (local.get $dist)))
          (if (i32.le_s (local.get $h) (i32x4.extract_lane 0 (local.get $thr)))
            (then (local.set $thr (i32x4.replace_lane 0 (local.get $thr)
              (call $accept (local.get $st) (local.get $h) (local.get $row))))))
          (local.set $h (i32x4.extract_lane 1 (local.get $dist)))
          (if (i32.le_s (local.get $h) (i32x4.extract_lane 1 (local.get $thr)))
            (then (local.set $thr (i32x4.replace_lane 1 (local.get $thr)
              (call $accept (i32.add (local.get $st) (i32.const 32)) (local.get $h) (local.get $row))))))
          (local.set $h (i32x4.extract_lane 2 (local.get $dist)))
          (if (i32.le_s (local.get $h) (i32x4.extract_lane 2 (local.get $thr)))
            (then (local.set $thr (i32x4.replace_lane 2 (local.get $thr)
              (call $accept (i32.add (local.get $st) (i32.const 64)) (local.get $h) (local.get $row))))))
          (local.set $h (i32x4.extract_lane 3 (local.get $dist)))
          (if (i32.le_s (local.get $h) (i32x4.extract_lane 3 (local.get $thr)))
            (then (local.set $thr (i32x4.replace_lane 3 (local.get $thr)
              (call $accept (i32.add (local.get $st) (i32.const 96)) (local.get $h) (local.get $row)))))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (br $rows)))
    (call $compact (local.get $st))
    (call $compact (i32.add (local.get $st) (i32.const 32)))
    (call $compact (i32.add (local.get $st) (i32.const 64)))
    (call $compact (i32.add (local.get $st) (i32.const 96))))

  ;; One query per pass (the queries left over after the groups of four): four rows per step, their
  ;; distances summed across as in scan4; the last n mod 4 rows one at a time.
  (func (export "scan1") (param $n i32) (param $rowBytes i32) (param $chunks i32) (param $q i32)
    (param $mask i32) (param $allowed i32) (param $st i32) (param $K i32) (param $cap i32)
    (local $row i32) (local $p i32) (local $c i32) (local $g i32) (local $off i32) (local $h i32)
    (local $thr i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $lane i32) (local $full i32)
    (local $tail i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $x v128) (local $m v128) (local $dist v128) (local $t0 v128) (local $t1 v128)
    (global.set $K (local.get $K))
    (global.set $cap (local.get $cap))
    (local.set $thr (i32.load (local.get $st)))
    (local.set $full (i32.shr_u (local.get $rowBytes) (i32.const 4)))
    (local.set $tail (i32.and (local.get $rowBytes) (i32.const 15)))
    (local.set $r1 (local.get $rowBytes))
    (local.set $r2 (i32.shl (local.get $rowBytes) (i32.const 1)))
    (local.set $r3 (i32.mul (local.get $rowBytes) (i32.const 3)))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.gt_u (i32.add (local.get $row) (i32.const 4)) (local.get $n)))
        (local.set $w0 (v128.const i64x2 0 0))
        (local.set $w1 (v128.const i64x2 0 0))
        (local.set $w2 (v128.const i64x2 0 0))
        (local.set $w3 (v128.const i64x2 0 0))
        (local.set $off (i32.const 0))
        (local.set $c (i32.const 0))
        (if (local.get $full) (then
        (loop $groups
          (local.set $a0 (v128.const i64x2 0 0))
          (local.set $a1 (v128.const i64x2 0 0))
          (local.set $a2 (v128.const i64x2 0 0))
          (local.set $a3 (v128.const i64x2 0 0))
          (local.set $g (i32.sub (local.get $full) (local.get $c)))
          (local.set $g (select (local.get $g) (i32.const 31) (i32.lt_u (local.get $g) (i32.const 31))))
          (local.set $c (i32.add (local.get $c) (local.get $g)))
          (loop $chunk
            (local.set $x (v128.load (i32.add (local.get $q) (local.get $off))))
            (local.set $a0 (i8x16.add (local.get $a0) (i8x16.popcnt
              (v128.xor (local.get $x) (v128.load (i32.add (local.get $p) (local.get $off)))))))
            (local.set $a1 (i8x16.add (local.get $a1) (i8x16.popcnt
              (v128.xor (local.get $x) (v128.load (i32.add (i32.add (local.get $p) (local.get $r1)) (local.get $off)))))))
            (local.set $a2 (i8x16.add (local.get $a2) (i8x16.popcnt
              (v128.xor (local.get $x) (v128.load (i32.add (i32.add (local.get $p) (local.get $r2)) (local.get $off)))))))
            (local.set $a3 (i8x16.add (local.get $a3) (i8x16.popcnt
              (v128.xor (local.get $x) (v128.load (i32.add (i32.add (local.get $p) (local.get $r3)) (local.get $off)))))))
            (local.set $off (i32.add (local.get $off) (i32.const 16)))
            (local.set $g (i32.sub (local.get $g) (i32.const 1)))
            (br_if $chunk (local.get $g)))
          (local.set $w0 (i16x8.add (local.get $w0) (i16x8.extadd_pairwise_i8x16_u (local.get $a0))))
          (local.set $w1 (i16x8.add (local.get $w1) (i16x8.extadd_pairwise_i8x16_u (local.get $a1))))
          (local.set $w2 (i16x8.add (local.get $w2) (i16x8.extadd_pairwise_i8x16_u (local.get $a2))))
          (local.set $w3 (i16x8.add (local.get $w3) (i16x8.extadd_pairwise_i8x16_u (local.get $a3))))
          (br_if $groups (i32.lt_u (local.get $c) (local.get $full))))))
        (if (local.get $tail) (then
          (local.set $x (v128.load (i32.add (local.get $q) (local.get $off))))
          (local.set $m (v128.load (i32.add (local.get $mask) (local.get $off))))
          (local.set $w0 (i16x8.add (local.get $w0) (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.and (local.get $m)
            (v128.xor (local.get $x) (v128.load (i32.add (local.get $p) (local.get $off)))))))))
          (local.set $w1 (i16x8.add (local.get $w1) (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.and (local.get $m)
            (v128.xor (local.get $x) (v128.load (i32.add (i32.add (local.get $p) (local.get $r1)) (local.get $off)))))))))
          (local.set $w2 (i16x8.add (local.get $w2) (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.and (local.get $m)
            (v128.xor (local.get $x) (v128.load (i32.add (i32.add (local.get $p) (local.get $r2)) (local.get $off)))))))))
          (local.set $w3 (i16x8.add (local.get $w3) (i16x8.extadd_pairwise_i8x16_u (i8x16.popcnt (v128.and (local.get $m)
            (v128.xor (local.get $x) (v128.load (i32.add (i32.add (local.get $p) (local.get $r3)) (local.get $off)))))))))))
        (local.set $t0 (i16x8.add
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $w0) (local.get $w1))
          (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $w0) (local.get $w1))))
        (local.set $t1 (i16x8.add
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $w2) (local.get $w3))
          (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $w2) (local.get $w3))))
        (local.set $dist (i32x4.extadd_pairwise_i16x8_u (i16x8.add
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $t0) (local.get $t1))
          (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $t0) (local.get $t1)))))
        (if (v128.any_true (i32x4.le_s (local.get $dist) (i32x4.splat (local.get $thr))))
          (then
            ;; In row order, each against the threshold as lowered by the rows before it.
            (local.set $lane (i32.const 0))
            (loop $lanes
              (local.set $h (i32x4.extract_lane 0 (local.get $dist)))
              (if (i32.and (i32.le_s (local.get $h) (local.get $thr))
                           (call $allowed (local.get $allowed) (i32.add (local.get $row) (local.get $lane))))
                (then (local.set $thr
                  (call $accept (local.get $st) (local.get $h) (i32.add (local.get $row) (local.get $lane))))))
              (local.set $dist (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $dist) (local.get $dist)))
              (local.set $lane (i32.add (local.get $lane) (i32.const 1)))
              (br_if $lanes (i32.lt_u (local.get $lane) (i32.const 4))))))
        (local.set $row (i32.add (local.get $row) (i32.const 4)))
        (local.set $p (i32.add (local.get $p) (i32.shl (local.get $rowBytes) (i32.const 2))))
        (br $quads)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $n)))
        (local.set $w0 (v128.const i64x2 0 0))
        (local.set $off (i32.const 0))
        (local.set $c (i32.const 0))
        (loop $groups
          (local.set $a0 (v128.const i64x2 0 0))
          (local.set $g (i32.sub (local.get $chunks) (local.get $c)))
          (local.set $g (select (local.get $g) (i32.const 31) (i32.lt_u (local.get $g) (i32.const 31))))
          (local.set $c (i32.add (local.get $c) (local.get $g)))
          (loop $chunk
            (local.set $a0 (i8x16.add (local.get $a0) (i8x16.popcnt (v128.and
              (v128.load (i32.add (local.get $mask) (local.get $off)))
              (v128.xor (v128.load (i32.add (local.get $p) (local.get $off)))
                        (v128.load (i32.add (local.get $q) (local.get $off))))))))
            (local.set $off (i32.add (local.get $off) (i32.const 16)))
            (local.set $g (i32.sub (local.get $g) (i32.const 1)))
            (br_if $chunk (local.get $g)))
          (local.set $w0 (i16x8.add (local.get $w0) (i16x8.extadd_pairwise_i8x16_u (local.get $a0))))
          (br_if $groups (i32.lt_u (local.get $c) (local.get $chunks))))
        (local.set $dist (i32x4.extadd_pairwise_i16x8_u (local.get $w0)))
        (local.set $dist (i32x4.add (local.get $dist)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $dist) (local.get $dist))))
        (local.set $h (i32.add (i32x4.extract_lane 0 (local.get $dist)) (i32x4.extract_lane 1 (local.get $dist))))
        (if (i32.and (i32.le_s (local.get $h) (local.get $thr))
                     (call $allowed (local.get $allowed) (local.get $row)))
          (then (local.set $thr (call $accept (local.get $st) (local.get $h) (local.get $row)))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (br $rows)))
    (call $compact (local.get $st))))
