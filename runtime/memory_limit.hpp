// The memory limit (--max-memory, default: the machine's physical memory): a model whose
// buffers and arena exceed it is refused with a located error naming its largest values,
// before anything is allocated; the data readers refuse data that would exceed it.
#pragma once
#include "ir/diagnostics.hpp"
#include "ir/graph.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

// The machine's physical memory in bytes (sysconf); 0 when unknown.
uint64_t physical_memory_bytes();
// The process's limit: set_memory_limit's, else physical_memory_bytes() (0: no limit).
uint64_t memory_limit();
void set_memory_limit(uint64_t bytes);

// "512M", "8G", "1.5T", "64KiB", "1000000" (bytes); K, M, G, T are powers of 1024.
// nullopt unless a positive size up to 2^62 bytes.
std::optional<uint64_t> parse_memory_size(std::string_view text);

// a + b, saturating at UINT64_MAX.
inline uint64_t saturating_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

// What the JIT allocates for a graph: its buffer table (inputs, params, consts, optimizer
// states, loss, outputs, metrics, grads) and the arena of its largest entry point (the
// kernels' intermediates and scratch, backend::codegen_plan). When more than `limit` (0:
// none), reports a [memory] error at the largest value with notes naming the three largest
// (param, gradient or intermediate, with its type and size) and returns false. Defined in
// runtime/memory_check.cpp, apart from the limit, which the data readers use alone.
bool check_memory(const Graph& g, uint64_t limit, Diagnostics& d);

}  // namespace kiln
