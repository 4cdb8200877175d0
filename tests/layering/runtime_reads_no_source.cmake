# The layering test that the runtime never lowers source: kiln_runtime links the front end
# for compile() alone (runtime/compile.cpp, and runtime/from_source.cpp, which turns a
# command's source into compiled results), so no other runtime file may include a
# frontend/ header; the trainer, the evaluator and the predictor are handed compiled
# results. Run as cmake -DSOURCE_DIR=... -P this.
cmake_minimum_required(VERSION 3.20)
file(GLOB_RECURSE sources ${SOURCE_DIR}/runtime/*)
set(allowed compile.cpp compile.hpp from_source.cpp from_source.hpp)
set(found "")
foreach(f ${sources})
  get_filename_component(name ${f} NAME)
  if(f MATCHES "\\.(cpp|hpp|h|inc)$" AND NOT name IN_LIST allowed)
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]frontend/")
    if(lines)
      list(APPEND found "${f}: ${lines}")
    endif()
  endif()
endforeach()
if(found)
  list(JOIN found "\n" text)
  message(FATAL_ERROR "runtime files other than compile.cpp and from_source.cpp include the front end (the runtime is handed compiled results):\n${text}")
endif()
message(STATUS "only runtime/compile and runtime/from_source include the front end")
