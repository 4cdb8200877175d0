// The layering tests' probe (tests/CMakeLists.txt): compiled in the context of a lower
// library, it includes a header of that library, which must be found, then one of a later
// folder, which must not be: the test passes on the compiler's "not found" for the latter.
#include KILN_OWN_HEADER
#include KILN_UPPER_HEADER
