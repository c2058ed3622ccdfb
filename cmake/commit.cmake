# Run at every build (cmake -P): writes OUT, the C string ch_commit with
# the commit the tree is at ("+" after it when the tree has changes;
# "unknown" outside a git checkout, as in a release tarball), and rewrites
# it only when that changes, so that nothing is rebuilt for nothing.
execute_process(
  COMMAND git -C ${SRC} describe --always --dirty=+ --abbrev=12
  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE rc ERROR_QUIET)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
file(WRITE ${OUT}.tmp
  "#include \"lib/core/version.h\"\nconst char ch_commit[] = \"${commit}\";\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
file(REMOVE ${OUT}.tmp)
