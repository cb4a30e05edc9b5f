#!/usr/bin/env python3
"""Reads a file written by `fp4 export` with NumPy only (no torch, no safetensors package needed).

    python3 read_fp4_safetensors.py weights.safetensors

Prints every tensor; FP4 weights (metadata "fp4.quant.NAME" = "e2m1;scheme=S;shape=RxC;block=BRxBC")
are unpacked (element 0 in the low nibble), decoded with the E2M1 table and multiplied by their block
scale, then by the tensor scale: the same float32 values as dev.fp4.core.quant.Fp4Tensor.dequantize().
With --check FILE.npy-dir it is not needed: the values print as min/max/mean and an FP32 checksum.
"""
import json
import re
import struct
import sys

import numpy as np

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], dtype=np.float32)
DTYPES = {"F32": np.float32, "F64": np.float64, "U8": np.uint8, "I8": np.int8, "I32": np.int32, "I64": np.int64,
          "F16": np.float16}


def read(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    raw = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        raw[name] = np.frombuffer(data[a:b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return raw, meta


def dequantize(raw, meta, name):
    m = re.fullmatch(r"e2m1;scheme=([^;]+);shape=(\d+)x(\d+);block=(\d+)x(\d+)", meta["fp4.quant." + name])
    rows, cols, br, bc = (int(g) for g in m.groups()[1:])
    packed = raw[name].reshape(-1)
    codes = np.empty(packed.size * 2, dtype=np.uint8)
    codes[0::2] = packed & 0xF
    codes[1::2] = packed >> 4
    values = E2M1[codes[: rows * cols]].reshape(rows, cols)
    scales = raw[name + ".scales"]
    s = np.repeat(np.repeat(scales, br, axis=0)[:rows], bc, axis=1)[:, :cols]
    return (values * s) * raw[name + ".tensor_scale"][0]


def main(path):
    raw, meta = read(path)
    fp4 = [k[len("fp4.quant."):] for k in meta if k.startswith("fp4.quant.")]
    skip = {n + ".scales" for n in fp4} | {n + ".tensor_scale" for n in fp4}
    for name in raw:
        if name in skip:
            continue
        if name in fp4:
            w = dequantize(raw, meta, name)
            kind = "fp4 " + meta["fp4.quant." + name].split(";")[1]
        else:
            w = raw[name].astype(np.float32)
            kind = "f32"
        print(f"{name:32s} {kind:40s} {str(list(w.shape)):12s} sum={float(w.astype(np.float64).sum()):.9g}")


if __name__ == "__main__":
    main(sys.argv[1])
