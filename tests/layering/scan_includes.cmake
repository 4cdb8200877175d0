# scan_includes(OUT REGEX FILES...): the "file: lines" of each of FILES (sources: .cpp, .hpp,
# .h, .inc) with an #include line whose path matches REGEX (a regex of what follows
# the opening quote or bracket); shared by the layering scripts of this folder.
function(scan_includes out regex)
  set(found "")
  foreach(f ${ARGN})
    if(f MATCHES "\\.(cpp|hpp|h|inc)$")
      file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]${regex}")
      if(lines)
        list(APPEND found "${f}: ${lines}")
      endif()
    endif()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()
