#!/usr/bin/env python3
# Writes the hand-made binary seeds of the NPY and safetensors fuzzers (tests/fuzz/seeds/
# npy_fuzz, safetensors_fuzz): small files covering every dtype, format version and shape
# kind the readers accept. Run from anywhere: python3 tests/fuzz/seeds/make_binary_seeds.py
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def npy(major, descr, shape, data, fortran=False, shape_text=None):
    if shape_text is None:
        shape_text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False", shape_text)
    prefix = 10 if major == 1 else 12
    total = prefix + len(header) + 1
    header += " " * ((total + 63) // 64 * 64 - total) + "\n"
    length = struct.pack("<H", len(header)) if major == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + length + header.encode("latin-1") + data


def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write(folder, name, data):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    with open(os.path.join(HERE, folder, name), "wb") as f:
        f.write(data)


f32 = lambda *v: struct.pack("<%df" % len(v), *v)
f64 = lambda *v: struct.pack("<%dd" % len(v), *v)
i32 = lambda *v: struct.pack("<%di" % len(v), *v)
i64 = lambda *v: struct.pack("<%dq" % len(v), *v)

write("npy_fuzz", "f4_2x3.npy", npy(1, "<f4", (2, 3), f32(1, -2.5, 3e-38, 0.0, -0.0, 1e30)))
write("npy_fuzz", "f8_vector.npy", npy(1, "<f8", (4,), f64(0.1, -1e300, 5e-324, 2.0)))
write("npy_fuzz", "i4_scalar.npy", npy(1, "<i4", (), i32(-7)))
write("npy_fuzz", "i8_column.npy", npy(1, "<i8", (3, 1), i64(0, -2147483648, 2147483647)))
write("npy_fuzz", "u1_labels.npy", npy(1, "|u1", (5,), bytes([0, 1, 2, 9, 255])))
write("npy_fuzz", "b1_mask.npy", npy(1, "|b1", (2, 2), bytes([0, 1, 1, 0])))
write("npy_fuzz", "empty.npy", npy(1, "<f4", (0, 3), b""))
write("npy_fuzz", "v2_f4.npy", npy(2, "<f4", (2,), f32(1, 2)))
write("npy_fuzz", "v3_alias_long.npy", npy(3, "float64", None, f64(3, 4), shape_text="(2L,)"))
write("npy_fuzz", "fortran.npy", npy(1, "<f4", (2, 2), f32(1, 2, 3, 4), fortran=True))
write("npy_fuzz", "big_endian.npy", npy(1, ">f4", (1,), struct.pack(">f", 1)))

write("safetensors_fuzz", "f32_f64.safetensors",
      safetensors([("w", "F32", [2, 2], f32(1, -2, 0.5, 3)), ("b", "F64", [2], f64(0.25, -1e-300))]))
write("safetensors_fuzz", "ints_metadata.safetensors",
      safetensors([("step", "I64", [], i64(42)), ("labels", "I32", [3], i32(0, 1, -5))],
                  {"format": "kiln", "note": "caf\u00e9 \"q\""}))
write("safetensors_fuzz", "empty_tensor.safetensors", safetensors([("e", "F32", [0, 4], b""), ("s", "F32", [], f32(7))]))
write("safetensors_fuzz", "no_tensors.safetensors", safetensors([], {"k": "v"}))
