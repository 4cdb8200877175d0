// Saving and loading checkpoints (runtime/checkpoint.hpp).
#include "runtime/checkpoint.hpp"
#include "runtime/model.hpp"
#include <charconv>
#include <cmath>
#include <fmt/format.h>

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

namespace kiln {

namespace {
std::string saved_name(const Graph& g, NodeId id) {
  const Node& n = g[id];
  if (n.op == Op::state) return kStatePrefix + n.name;
  if (n.op == Op::const_) return kConstPrefix + n.name;
  return n.name;
}

// A metadata value that must be a decimal count ("0", "12") up to `max`.
bool meta_count(const std::map<std::string, std::string>& meta, const std::string& source, const char* key,
                uint64_t& out, std::string& err, uint64_t max = uint64_t(1) << 62) {
  auto it = meta.find(key);
  if (it == meta.end()) return true;
  const std::string& v = it->second;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || v[0] == '+' || ec != std::errc() || end != v.data() + v.size() || n > max) {
    err = fmt::format("{}: metadata '{}' is '{}', not a count", source, key, v);
    return false;
  }
  out = n;
  return true;
}

// The format check on metadata (also that of a file this kiln cannot otherwise read).
bool format_of(const std::map<std::string, std::string>& meta, const std::string& source, int& format,
               std::string& err) {
  uint64_t f = 0;
  if (!meta_count(meta, source, "kiln_format", f, err)) return false;
  if (f > uint64_t(kCheckpointFormat)) {
    auto v = meta.find("kiln_version");
    err = fmt::format("{}: checkpoint format {}{} is newer than this kiln ({} reads formats up to {}): upgrade kiln",
                      source, f, v != meta.end() ? fmt::format(" (written by kiln {})", v->second) : "", KILN_VERSION,
                      kCheckpointFormat);
    return false;
  }
  format = int(f);
  return true;
}

// The first NaN or infinity of a tensor the model takes from the checkpoint.
bool check_finite(const NamedTensor& t, const std::string& source, const char* what, std::string& err) {
  for (size_t k = 0; k < t.values.size(); ++k) {
    double v = t.values[k];
    if (std::isfinite(v)) continue;
    err = fmt::format("{}: {} '{}' holds {} (element {})", source, what, t.name,
                      std::isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf", k);
    return false;
  }
  return true;
}
}  // namespace

bool checkpoint_format(const SafetensorsFile& file, const std::string& source, int& format, std::string& err) {
  return format_of(file.metadata, source, format, err);
}

bool read_position(const SafetensorsFile& file, const std::string& source, std::optional<TrainPosition>& out,
                   std::string& err) {
  out.reset();
  if (!file.metadata.count("kiln_epochs_done")) return true;
  TrainPosition p;
  uint64_t epochs = 0, steps = 0;
  if (!meta_count(file.metadata, source, "kiln_epochs_done", epochs, err) ||
      !meta_count(file.metadata, source, "kiln_steps_into_epoch", steps, err) ||
      !meta_count(file.metadata, source, "kiln_seed", p.seed, err, ~uint64_t(0)))
    return false;
  p.epochs_done = int64_t(epochs);
  p.steps_into_epoch = int64_t(steps);
  if (auto it = file.metadata.find("kiln_stop"); it != file.metadata.end()) p.stop = it->second;
  out = std::move(p);
  return true;
}

bool save_checkpoint(const std::string& path, const Graph& g, const ValueMap& values, const NormalizationMap& norm,
                     std::string& err, const TrainPosition* position) {
  std::vector<NamedTensor> tensors;
  for (const auto* list : {&g.params, &g.consts, &g.states})
    for (NodeId id : *list) {
      auto it = values.find(g[id].name);
      if (it == values.end()) {
        err = fmt::format("internal: no value for '{}' to save", g[id].name);
        return false;
      }
      tensors.push_back({saved_name(g, id), g[id].dtype, g[id].shape, it->second.data});
    }
  for (auto& [input, st] : norm)
    for (auto& t : standardization_tensors(input, st)) tensors.push_back(std::move(t));
  std::map<std::string, std::string> meta = {{"kiln_format", std::to_string(kCheckpointFormat)},
                                             {"kiln_model", g.model_name},
                                             {"kiln_model_hash", model_hash(g)},
                                             {"kiln_version", KILN_VERSION}};
  if (position) {
    meta["kiln_epochs_done"] = std::to_string(position->epochs_done);
    meta["kiln_steps_into_epoch"] = std::to_string(position->steps_into_epoch);
    meta["kiln_seed"] = std::to_string(position->seed);
    meta["kiln_stop"] = position->stop;
  }
  return write_safetensors(path, tensors, meta, err);
}

std::optional<SafetensorsFile> read_checkpoint(const std::string& path, const Graph& g, std::string& err) {
  auto file = read_safetensors(path, err);
  int format = 0;
  if (!file) {
    // A newer format may hold what this kiln cannot read (a new dtype, say): the format
    // is the clearer message then.
    std::string newer;
    if (!format_of(read_safetensors_metadata(path), path, format, newer)) err = newer;
    return std::nullopt;
  }
  if (!checkpoint_format(*file, path, format, err)) return std::nullopt;
  auto h = file->metadata.find("kiln_model_hash");
  if (h != file->metadata.end() && h->second != model_hash(g)) {
    auto m = file->metadata.find("kiln_model");
    std::string saved = m != file->metadata.end() ? m->second : "?";
    if (saved != g.model_name)
      err = fmt::format("{} was saved from model '{}' (hash {}), not '{}' (hash {})", path, saved, h->second,
                        g.model_name, model_hash(g));
    else
      err = fmt::format("{} was saved from a different version of model '{}' (hash {}, now {}): its inputs or "
                        "params changed",
                        path, saved, h->second, model_hash(g));
    return std::nullopt;
  }
  std::vector<TensorSpec> expected;
  for (NodeId id : g.params) expected.push_back({g[id].name, g[id].dtype, g[id].shape});
  if (!check_tensors(*file, path, expected, err)) return std::nullopt;
  // Non-finite values would train or predict NaN without a word: refuse them here.
  for (const auto* list : {&g.params, &g.consts, &g.states})
    for (NodeId id : *list)
      if (const NamedTensor* t = file->find(saved_name(g, id)))
        if (!check_finite(*t, path, g[id].op == Op::param ? "param" : "tensor", err)) return std::nullopt;
  for (const NamedTensor& t : file->tensors)
    if (t.name.rfind("__normalize__.", 0) == 0 && !check_finite(t, path, "tensor", err)) return std::nullopt;
  return file;
}

bool restore_values(const SafetensorsFile& file, const std::string& source, const Graph& g, ValueMap& values,
                    std::string& err) {
  for (const auto* list : {&g.params, &g.consts, &g.states})
    for (NodeId id : *list) {
      const Node& n = g[id];
      std::string name = saved_name(g, id);
      const NamedTensor* t = file.find(name);
      if (!t) continue;  // params were checked by read_checkpoint
      if (t->shape != n.shape) {
        err = fmt::format("{}: tensor '{}' is {} but the model's is {}", source, name, type_str(t->dtype, t->shape),
                          type_str(n.dtype, n.shape));
        return false;
      }
      Tensor v(n.dtype, n.shape);
      v.data = t->values;
      values[n.name] = std::move(v);
    }
  return true;
}

std::optional<NormalizationMap> restore_normalization(const SafetensorsFile& file, const std::string& source,
                                                      const std::vector<InputSpec>& inputs, std::string& err) {
  NormalizationMap out;
  for (const InputSpec& in : inputs) {
    if (!in.normalize) continue;
    auto st = standardization_from(file, source, in, err);
    if (!st) return std::nullopt;
    out[in.name] = std::move(*st);
  }
  return out;
}

}  // namespace kiln
