cmake_minimum_required(VERSION 3.25)
# Layering: every #include points the allowed way.
#
#   core     (src/core, its headers)    -> core
#   model M  (src/M, M's headers)       -> core, M
#   machine  (src/machine, its headers) -> core, every model, machine,
#                                          Unicorn, Capstone
#   users    (tools, examples, bench,   -> public headers (include/virtmodel)
#             fuzz)                        and their own local files; bench
#                                          also Unicorn (the raw baseline)
#
# A public header belongs to the layer its name says (vmx*.h to vmx, ...,
# machine.h/model.h/models.h/loader.h/checkpoint.h/arm64_boot.h/attach_*.h to
# machine).
# Quoted includes of a file next to the includer stay in its layer.
set(VMDL_CORE_HEADERS arch bits blob error fault guest_mem image irq multiboot fw_cfg
    arm64_image msi)
set(VMDL_MACHINE_HEADERS machine model models loader checkpoint trace progress
    inspect arm64_boot debug gdbstub)
file(GLOB VMDL_MODEL_DIRS LIST_DIRECTORIES true RELATIVE ${SRC}/src ${SRC}/src/*)
list(REMOVE_ITEM VMDL_MODEL_DIRS core machine)

# Layer of a public header name (without .h / .def).
function(header_layer name out)
  if(name IN_LIST VMDL_CORE_HEADERS)
    set(${out} core PARENT_SCOPE)
    return()
  endif()
  if(name IN_LIST VMDL_MACHINE_HEADERS OR name MATCHES "^attach_")
    set(${out} machine PARENT_SCOPE)
    return()
  endif()
  # The longest model name that prefixes it (pci_edu.h is pci's, not pc's).
  set(best unknown)
  set(best_len 0)
  foreach(m IN LISTS VMDL_MODEL_DIRS)
    string(LENGTH "${m}" len)
    if((name MATCHES "^${m}" OR (m STREQUAL "vmx" AND name MATCHES "^vmcs12"))
       AND len GREATER best_len)
      set(best ${m})
      set(best_len ${len})
    endif()
  endforeach()
  set(${out} ${best} PARENT_SCOPE)
endfunction()

# Layer of a file of the tree.
function(file_layer f out)
  file(RELATIVE_PATH rel ${SRC} ${f})
  if(rel MATCHES "^src/([^/]+)/")
    set(l ${CMAKE_MATCH_1})
  elseif(rel MATCHES "^include/virtmodel/([^/.]+)\\.")
    header_layer(${CMAKE_MATCH_1} l)
  elseif(rel MATCHES "^bench/")
    set(l bench)
  else()
    set(l user)
  endif()
  set(${out} ${l} PARENT_SCOPE)
endfunction()

# May layer `from` include something of layer `to`?
function(allowed from to out)
  set(ok FALSE)
  if(from STREQUAL to OR to STREQUAL "core")
    set(ok TRUE)
  elseif(from STREQUAL "machine" AND NOT to STREQUAL "user" AND NOT to STREQUAL "bench")
    set(ok TRUE)
  elseif((from STREQUAL "user" OR from STREQUAL "bench") AND to STREQUAL "public")
    set(ok TRUE)
  elseif(from STREQUAL "bench" AND to STREQUAL "engine")
    set(ok TRUE)
  endif()
  set(${out} ${ok} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE files
  ${SRC}/src/*.c ${SRC}/src/*.h ${SRC}/src/*.def ${SRC}/include/*.h ${SRC}/include/*.def
  ${SRC}/tools/*.c ${SRC}/tools/*.h ${SRC}/examples/*.c ${SRC}/examples/*.h
  ${SRC}/examples/*.S ${SRC}/bench/*.c ${SRC}/bench/*.h ${SRC}/fuzz/*.c ${SRC}/fuzz/*.h)
set(bad "")
set(checked 0)
foreach(f IN LISTS files)
  file_layer(${f} from)
  get_filename_component(dir ${f} DIRECTORY)
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(line IN LISTS lines)
    math(EXPR checked "${checked} + 1")
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*" "\\1" inc "${line}")
    string(REGEX REPLACE "_image\\.h$" "" flat_guest "${inc}")
    if(inc MATCHES "^(unicorn|capstone)/")
      set(to engine)
    elseif(inc MATCHES "^virtmodel/([^/.]+)\\.")
      header_layer(${CMAKE_MATCH_1} to)
      if(from STREQUAL "user" OR from STREQUAL "bench")
        set(to public)
      endif()
    elseif(line MATCHES "\"" AND EXISTS ${dir}/${inc})
      file_layer(${dir}/${inc} to)
      if(NOT inc MATCHES "^\\.\\./" AND NOT (from STREQUAL to))
        set(to ${from})     # a file next to the includer
      endif()
    elseif(line MATCHES "\"" AND EXISTS ${SRC}/src/${inc})
      file_layer(${SRC}/src/${inc} to)
    elseif(line MATCHES "\"" AND (from STREQUAL "user" OR from STREQUAL "bench")
           AND EXISTS ${SRC}/tests/machine/guests/${flat_guest}.S)
      # The bytes of a flat test guest, generated at build time
      # (cmake/flat_guest.cmake): data of the program's own.
      set(to ${from})
    elseif(line MATCHES "\"" AND (from STREQUAL "user" OR from STREQUAL "bench")
           AND NOT inc MATCHES "\\.\\./")
      # A helper of the program's own tree (found through its -I).
      file(RELATIVE_PATH rel ${SRC} ${f})
      string(REGEX REPLACE "/.*" "" top "${rel}")
      file(GLOB_RECURSE own ${SRC}/${top}/${inc})
      set(to unknown)
      if(own)
        set(to ${from})
      endif()
    elseif(line MATCHES "<")
      continue()            # a system header
    else()
      set(to unknown)
    endif()
    allowed(${from} ${to} ok)
    if(NOT ok)
      file(RELATIVE_PATH rel ${SRC} ${f})
      list(APPEND bad "${rel} (${from}) includes ${inc} (${to})")
    endif()
  endforeach()
endforeach()
if(bad)
  list(JOIN bad "\n  " msg)
  message(FATAL_ERROR "include direction violations:\n  ${msg}")
endif()
message("layering ok: ${checked} includes checked")
