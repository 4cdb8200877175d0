// libFuzzer target: arbitrary bytes through the whole front end (parse, lower, render the
// diagnostics; verify and print the graph when it lowers: front_end_property.hpp). It links
// the front end and the IR alone (pipeline_fuzz takes the graph on through the later
// stages). Any crash, sanitizer report or malformed graph fails.
#include "front_end_property.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::SourceFile file("fuzz.model", std::string(reinterpret_cast<const char*>(data), size));
  (void)kiln::fuzz::front_end_property(file);
  return 0;
}
