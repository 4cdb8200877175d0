// Checkpoints: a model's params, consts, optimizer state and normalisation statistics in
// one safetensors file, with the model's hash in the metadata (docs/training.md).
#pragma once
#include "ir/graph.hpp"
#include "ir/interpreter.hpp"
#include "runtime/dataset.hpp"
#include "runtime/safetensors.hpp"
#include <map>
#include <optional>
#include <string>

namespace kiln {

// Tensor names: a param keeps its name; a const is "__const__.NAME"; an optimizer state
// "__state__.NAME" (e.g. "__state__.w1.m", "__state__.step"); the statistics of a
// normalize'd input "__normalize__.NAME.mean" / ".std" (F64).
inline const char* const kStatePrefix = "__state__.";
inline const char* const kConstPrefix = "__const__.";

using NormalizationMap = std::map<std::string, Standardization>;  // input name -> stats

// The checkpoint format ("kiln_format" in the metadata) this kiln writes, and the newest
// it reads (docs/data.md). 0: the files written before the key existed (no training
// position); 1: "kiln_format" and the training position (TrainPosition). A later format
// that adds tensors or keys raises it; reading a format up to this one stays possible.
inline constexpr int kCheckpointFormat = 1;

// Where a run stood when it saved: what `train --load` continues from. Metadata
// "kiln_epochs_done", "kiln_steps_into_epoch", "kiln_seed" and "kiln_stop".
struct TrainPosition {
  int64_t epochs_done = 0;       // epochs completed
  int64_t steps_into_epoch = 0;  // steps of epoch epochs_done + 1 already trained (0 at a boundary)
  uint64_t seed = 0;             // the shuffle's seed (epoch e's order is seeded with seed + e)
  std::string stop = "end";      // why it saved: "end", "interrupted" or "non-finite"
};

// Writes `path` atomically. `g` is the graph whose params/consts/states are saved (the
// training graph); `values` holds their values by leaf name. Metadata: "kiln_format",
// "kiln_model" (the model's name), "kiln_model_hash" (model_hash(g)), "kiln_version", and
// the position when given.
bool save_checkpoint(const std::string& path, const Graph& g, const ValueMap& values, const NormalizationMap& norm,
                     std::string& err, const TrainPosition* position = nullptr);

// Reads `path` and checks it against the model: its format must be one this kiln reads
// ("p.safetensors: checkpoint format 3 is newer than this kiln ..."), the hash in its
// metadata (when present) must be the model's ("p.safetensors was saved from model 'iris'
// (hash ...), not 'digits' (hash ...)"), it must hold every param with the model's dtype and
// shape, and every value the model takes from it (params, consts, states, normalisation
// statistics) must be finite ("p.safetensors: param 'w1' holds NaN (element 12)").
std::optional<SafetensorsFile> read_checkpoint(const std::string& path, const Graph& g, std::string& err);

// The file's format: "kiln_format", or 0 when absent. False on a value that is not a
// number, or a format newer than kCheckpointFormat.
bool checkpoint_format(const SafetensorsFile& file, const std::string& source, int& format, std::string& err);

// The training position of a format-1 file; nullopt in `out` when the file has none (format
// 0, or not written by kiln). False on a malformed value.
bool read_position(const SafetensorsFile& file, const std::string& source, std::optional<TrainPosition>& out,
                   std::string& err);

// Copies the checkpoint's params into `values`, and its consts and states when present
// (a state or const of another shape is an error); what is absent keeps its value.
bool restore_values(const SafetensorsFile& file, const std::string& source, const Graph& g, ValueMap& values,
                    std::string& err);

// The statistics of every normalize'd input, which the checkpoint must hold.
std::optional<NormalizationMap> restore_normalization(const SafetensorsFile& file, const std::string& source,
                                                      const std::vector<InputSpec>& inputs, std::string& err);

}  // namespace kiln
