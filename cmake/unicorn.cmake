# Unicorn >= 2.1 as the imported target vmdl_unicorn.
#
# Why 2.1: 2.0.1 looks guest memory up by virtual address before it
# translates (Unicorn issue #1718), so a guest with paging or the arm64 MMU
# faults on every mapping whose virtual and physical addresses differ.
#
# Where from: scripts/deps.sh unpacks Debian 13's packages under
# .deps/unicorn when the system has no Unicorn >= 2.1; that copy wins.
# Otherwise the system's, through pkg-config.  VMDL_UNICORN_ROOT overrides
# both (a prefix with include/unicorn and lib*/libunicorn.so).
# Sets VMDL_UNICORN_LIBRARY and VMDL_UNICORN_INCLUDE_DIR for the installed
# package files.
set(VMDL_UNICORN_MIN_VERSION 2.1)
set(VMDL_UNICORN_ROOT "${PROJECT_SOURCE_DIR}/.deps/unicorn/usr" CACHE PATH
    "Prefix of a Unicorn >= 2.1 to use before the system's")

find_path(VMDL_UNICORN_INCLUDE_DIR unicorn/unicorn.h
          PATHS ${VMDL_UNICORN_ROOT}/include NO_DEFAULT_PATH)
find_library(VMDL_UNICORN_LIBRARY NAMES libunicorn.so.2 unicorn
             PATHS ${VMDL_UNICORN_ROOT}/lib ${VMDL_UNICORN_ROOT}/lib/x86_64-linux-gnu
             NO_DEFAULT_PATH)
if(NOT VMDL_UNICORN_INCLUDE_DIR OR NOT VMDL_UNICORN_LIBRARY)
  unset(VMDL_UNICORN_INCLUDE_DIR CACHE)
  unset(VMDL_UNICORN_LIBRARY CACHE)
  pkg_check_modules(VMDL_UC_PC QUIET unicorn>=${VMDL_UNICORN_MIN_VERSION})
  if(NOT VMDL_UC_PC_FOUND)
    message(FATAL_ERROR "virtmodel needs Unicorn >= ${VMDL_UNICORN_MIN_VERSION}: run "
      "scripts/deps.sh (it unpacks Debian 13's libunicorn-dev into .deps/unicorn), "
      "or set VMDL_UNICORN_ROOT to a prefix that has it")
  endif()
  find_path(VMDL_UNICORN_INCLUDE_DIR unicorn/unicorn.h HINTS ${VMDL_UC_PC_INCLUDE_DIRS})
  find_library(VMDL_UNICORN_LIBRARY unicorn HINTS ${VMDL_UC_PC_LIBRARY_DIRS})
endif()

# Check the header's version rather than trusting where it came from.
file(STRINGS ${VMDL_UNICORN_INCLUDE_DIR}/unicorn/unicorn.h vmdl_uc_ver
     REGEX "^#define UC_API_(MAJOR|MINOR|PATCH) ")
string(REGEX REPLACE ".*UC_API_MAJOR ([0-9]+).*" "\\1" vmdl_uc_major "${vmdl_uc_ver}")
string(REGEX REPLACE ".*UC_API_MINOR ([0-9]+).*" "\\1" vmdl_uc_minor "${vmdl_uc_ver}")
string(REGEX REPLACE ".*UC_API_PATCH ([0-9]+).*" "\\1" vmdl_uc_patch "${vmdl_uc_ver}")
set(VMDL_UNICORN_VERSION "${vmdl_uc_major}.${vmdl_uc_minor}.${vmdl_uc_patch}")
if(VMDL_UNICORN_VERSION VERSION_LESS VMDL_UNICORN_MIN_VERSION)
  message(FATAL_ERROR "Unicorn ${VMDL_UNICORN_VERSION} at ${VMDL_UNICORN_INCLUDE_DIR} is older "
    "than ${VMDL_UNICORN_MIN_VERSION}; run scripts/deps.sh or set VMDL_UNICORN_ROOT")
endif()
message(STATUS "Unicorn ${VMDL_UNICORN_VERSION}: ${VMDL_UNICORN_LIBRARY}")

add_library(vmdl_unicorn INTERFACE IMPORTED)
# BEFORE: an older system Unicorn's headers must not shadow these.
target_include_directories(vmdl_unicorn BEFORE INTERFACE ${VMDL_UNICORN_INCLUDE_DIR})
target_link_libraries(vmdl_unicorn INTERFACE ${VMDL_UNICORN_LIBRARY} Threads::Threads m)
