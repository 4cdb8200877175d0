# The layering test that no source of a library or of the tool includes a path starting
# with "../" (a quoted include is first looked up beside the including file, so one could
# reach a later folder past the include roots). Run as cmake -DSOURCE_DIR=... -P this.
include(${CMAKE_CURRENT_LIST_DIR}/scan_includes.cmake)
file(GLOB_RECURSE sources ${SOURCE_DIR}/ir/* ${SOURCE_DIR}/frontend/* ${SOURCE_DIR}/passes/*
     ${SOURCE_DIR}/backend/* ${SOURCE_DIR}/runtime/* ${SOURCE_DIR}/tools/*)
scan_includes(found "\\.\\./" ${sources})
if(found)
  list(JOIN found "\n" text)
  message(FATAL_ERROR "includes of a parent folder (an include root per library: CMakeLists.txt):\n${text}")
endif()
message(STATUS "no library source includes \"../\"")
