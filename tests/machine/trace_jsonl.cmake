# Run a guest with --trace-format jsonl into a file, then parse every line
# with Python's json module (check_jsonl.py).  Skipped (the test's
# SKIP_REGULAR_EXPRESSION) without python3.
if(NOT PYTHON)
  message("SKIPPED: python3 not found; the JSON Lines trace is not parsed")
  return()
endif()
file(REMOVE ${TRACE})
execute_process(COMMAND ${RUNNER} ${IMAGE} ${ARGS} --trace-format jsonl
  --trace-file ${TRACE} RESULT_VARIABLE status OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT "${status}" STREQUAL "${EXIT}")
  message(FATAL_ERROR "guest exited with ${status}, expected ${EXIT}: ${err}")
endif()
execute_process(COMMAND ${PYTHON} ${CHECK} ${TRACE} ${ARCH} ${MIN} ${REASONS}
  RESULT_VARIABLE ok)
if(NOT ok EQUAL 0)
  message(FATAL_ERROR "the trace does not parse as documented")
endif()
