#!/usr/bin/env python3
# Cost model of fp4-spark's all-reduce (docs/distributed.md). Per step and worker:
#   bytes sent   S(N)      = 2 (N-1)/N * P * b
#   T_comm(N)   = S(N) / B + 2 (N-1) * K * alpha
# Communication dominates once T_comm(N) >= T_c (then no backward is left to hide it behind).
# usage: python3 costmodel.py TC_SMALL TC_MEDIUM [ALPHA]
import sys
alpha = float(sys.argv[3]) if len(sys.argv) > 3 else 10e-6
models = [('small', 3_541_248, 39, float(sys.argv[1])), ('25.6 M', 25_567_744, 75, float(sys.argv[2]))]
def nstar(t, tc):
    return next((str(N) for N in range(2, 100000) if t(N) >= tc), "never")
print("| model | grad-comm | link | bytes sent per worker and step (N → ∞) | T_comm N = 2 | N = 8 | N = 64 "
      "| dominates from N (T_c of 1 thread) | (T_c / 10) |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, P, K, Tc in models:
    for codec, b in [('fp32', 4), ('bf16', 2), ('fp8', 1)]:
        for gbps in [1, 10, 100]:
            B = gbps * 1e9 / 8
            t = lambda N: 2 * (N - 1) / N * P * b / B + 2 * (N - 1) * K * alpha
            cells = " | ".join(f"{1e3*t(N):,.1f} ms" for N in [2, 8, 64])
            print(f"| {name} | {codec} | {gbps} Gb/s | {2*P*b/1e6:.1f} MB | {cells} | {nstar(t, Tc)} | {nstar(t, Tc/10)} |")
