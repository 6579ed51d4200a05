cmake_minimum_required(VERSION 3.25)
# Every public header compiles on its own, as C11 (-Wpedantic) and as C++17,
# and a C++ program calling a function declared in it links against C
# definitions: the header wraps its declarations in extern "C".
file(GLOB headers RELATIVE ${SRC}/include ${SRC}/include/virtmodel/*.h)
file(MAKE_DIRECTORY ${WORK})
set(bad "")
foreach(h IN LISTS headers)
  string(MAKE_C_IDENTIFIER ${h} id)
  file(WRITE ${WORK}/${id}.c "#include \"${h}\"\n")
  file(WRITE ${WORK}/${id}.cpp "#include \"${h}\"\n")
  execute_process(COMMAND ${CC} -std=c11 -Wall -Wextra -Wpedantic -Werror
      -fsyntax-only -I${SRC}/include ${WORK}/${id}.c
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(APPEND bad "${h} (C): ${err}")
  endif()
  execute_process(COMMAND ${CXX} -std=c++17 -Wall -Wextra -Werror
      -fsyntax-only -I${SRC}/include ${WORK}/${id}.cpp
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(APPEND bad "${h} (C++): ${err}")
  endif()
  # A header that declares functions must give them C linkage in C++.
  file(STRINGS ${SRC}/include/${h} decls REGEX "^[a-z].*[a-z0-9_]+\\(.*")
  file(STRINGS ${SRC}/include/${h} guard REGEX "extern \"C\"")
  if(decls AND NOT guard)
    list(APPEND bad "${h}: declares functions without extern \"C\"")
  endif()
endforeach()
if(bad)
  list(JOIN bad "\n  " msg)
  message(FATAL_ERROR "public headers:\n  ${msg}")
endif()
list(LENGTH headers n)
message("headers ok: ${n} public headers, C11 and C++17")
