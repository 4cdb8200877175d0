// Where every value of a compiled graph lives: the buffer table (leaves and roots), the
// nodes each entry point evaluates, and arena slots for intermediates and scratch.
#pragma once
#include "backend/codegen.hpp"
#include <array>

namespace kiln::backend {

struct Loc {
  enum Kind : uint8_t { none, buffer, arena, literal } kind = none;
  int64_t index = 0;  // buffer: index in the buffer table; arena: byte offset; literal: node id
};

struct Plan {
  std::vector<BufferSpec> buffers;
  std::vector<Loc> loc;                       // per node, aliases (reshape) resolved to their storage
  std::vector<int64_t> scratch;               // per node: arena offset of its kernel's scratch, or -1
  std::array<std::vector<bool>, 3> needed;    // per Entry: the nodes it evaluates
  std::vector<int64_t> update_temp;           // per g.updates: arena offset of a copy of an old value, or -1
  int64_t arena_bytes = 0;
};

// Does entry e write buffers of kind k?
bool entry_writes(Entry e, BufferKind k);

bool make_plan(const Graph& g, Plan& p, std::string& err);

// An arena request: `bytes`, live from program position `def` to `last_use` (inclusive).
struct ArenaRequest {
  int64_t bytes;
  int def, last_use;
};
// THE arena assignment: byte offsets (64-byte aligned) for the requests and the arena
// size. Today every request gets its own slot; a liveness-based planner replaces this
// function (the requests carry their live ranges for it).
std::vector<int64_t> assign_arena(const std::vector<ArenaRequest>& req, int64_t& total);

}  // namespace kiln::backend
