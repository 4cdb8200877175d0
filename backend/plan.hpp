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
  int64_t unshared_arena_bytes = 0;           // the arena if every request had its own slot
  // Elementwise fusion: fused_into[j] is the elementwise node (the host, the group's last
  // member) whose loop computes j in registers (j is never stored), or -1. operands[i]
  // (non-empty only for a host): the values its fused loop reads from memory, in argument order.
  std::vector<NodeId> fused_into;
  std::vector<std::vector<NodeId>> operands;
  // Per host: the matmul whose output tiles the group is applied to (its epilogue), or -1.
  // The matmul is a member (fused_into = host); operands[host] holds its operands too.
  std::vector<NodeId> anchor;
  // Per host: members that are roots or read outside the group, stored by the group's loop too (kernel arguments
  // after the operands and the scratch), in id order. They keep their storage (loc).
  std::vector<std::vector<NodeId>> stores;
  // Per reduction host: the last member of its prologue group (its input), or -1.
  std::vector<NodeId> prologue;
  // Per kernel (host or plain node): it writes an update value in place into its target's
  // buffer, which it may also read; it then stores through the operand's argument.
  std::vector<bool> in_place;
};

// Groups elementwise nodes into loops: per node, the host whose loop computes it in
// registers, or -1. j joins when it is elementwise, no root, and every consumer is an
// elementwise node of j's shape in one and the same group (so a group is a DAG with one
// stored value, run at the position of its host). A 2-D matmul (N > 1) read only by one
// group of its shape and dtype joins it as its anchor (at most one per group).
// Roots (outputs, update values, ...) may join too: the loop stores them as well, when
// every entry that evaluates the root also evaluates the host. needed: Plan::needed.
// Members read outside their group (after it) are stored the same way. stored: per node,
// whether its group's loop stores it.
// A group read only by a reduction (sum mean max min logsumexp sum_to; operands of the
// group's shape or single elements; nothing stored) becomes its prologue: prologue[r] is
// the group's last member, computed as the reduction reads it, and r is the host.
std::vector<NodeId> fuse_elementwise_chains(const Graph& g, const std::array<std::vector<bool>, 3>& needed,
                                            std::vector<bool>* stored = nullptr, std::vector<NodeId>* prologue = nullptr);

// Does entry e write buffers of kind k?
bool entry_writes(Entry e, BufferKind k);

// fuse: group elementwise nodes into shared loops (fuse_elementwise_chains); false: one
// kernel per node.
bool make_plan(const Graph& g, Plan& p, std::string& err, bool fuse = true);

// An arena request: `bytes`, live from program position `def` to `last_use` (inclusive).
struct ArenaRequest {
  int64_t bytes;
  int def, last_use;
};
// THE arena assignment: byte offsets (64-byte aligned) for the requests and the arena
// size. Liveness-based: requests whose live ranges intersect never overlap, the others
// may share bytes (passes/memory_plan.hpp assign_offsets).
std::vector<int64_t> assign_arena(const std::vector<ArenaRequest>& req, int64_t& total);
// The arena size without reuse: the sum of the 64-byte rounded request sizes.
int64_t unshared_arena_bytes(const std::vector<ArenaRequest>& req);

}  // namespace kiln::backend
