# The layering test that the runtime never lowers source: kiln_runtime links the front end
# for compile() alone (runtime/compile.cpp, and runtime/from_source.cpp, which turns a
# command's source into compiled results), so no other runtime file may include a
# frontend/ header; the trainer, the evaluator and the predictor are handed compiled
# results. Run as cmake -DSOURCE_DIR=... -P this.
include(${CMAKE_CURRENT_LIST_DIR}/scan_includes.cmake)
file(GLOB_RECURSE sources ${SOURCE_DIR}/runtime/*)
list(FILTER sources EXCLUDE REGEX "/runtime/(compile|from_source)\\.(cpp|hpp)$")
scan_includes(found "frontend/" ${sources})
if(found)
  list(JOIN found "\n" text)
  message(FATAL_ERROR "runtime files other than compile.cpp and from_source.cpp include the front end (the runtime is handed compiled results):\n${text}")
endif()
message(STATUS "only runtime/compile and runtime/from_source include the front end")
