// The warning options shared by check, dump and train: -W<id>, -Wno-<id>, -Werror and
// --no-rewrite, turned into the options of the static checks and the rewrite.
#include "tools/kiln/commands.hpp"
#include <map>

namespace kiln::cli {

const std::vector<FlagSpec>& diagnostic_flags() {
  static const std::vector<FlagSpec> flags = {
      {"W", false, "-W<id> enables a check, -Wno-<id> disables it, -Werror makes warnings errors", "", true},
      {"no-rewrite", false, "keep unstable expressions as written (default: rewrite them to stable forms)", ""},
  };
  return flags;
}

const std::vector<FlagSpec>& with_diagnostic_flags(const std::vector<FlagSpec>& flags) {
  static std::map<const std::vector<FlagSpec>*, std::vector<FlagSpec>> all;
  auto [it, fresh] = all.try_emplace(&flags, flags);
  if (fresh)
    for (auto& d : diagnostic_flags()) it->second.push_back(d);
  return it->second;
}

CheckAndRewriteOptions check_options(const Args& a, const SourceFile* src) {
  CheckAndRewriteOptions o;
  o.checks.source = src;
  o.rewrite = !a.has("no-rewrite");
  if (auto it = a.lists.find("W"); it != a.lists.end())
    for (const std::string& w : it->second) {
      std::string err;
      if (!apply_warning_option(w, o.checks, err)) throw UsageError(err);
    }
  return o;
}

}  // namespace kiln::cli
