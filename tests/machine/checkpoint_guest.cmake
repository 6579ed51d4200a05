# Checkpoint/restore through the harness in two processes: the run split at
# a checkpoint prints the same console output, ends with the same status and
# the same final-state digest as the uninterrupted run.
file(MAKE_DIRECTORY ${WORK})
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${RUNNER} ${IMAGE} ${args} --digest
  RESULT_VARIABLE full_status OUTPUT_VARIABLE full_out ERROR_VARIABLE full_err)
string(REGEX MATCH "state digest [0-9a-f]+" full_digest "${full_err}")
set(split_done 0)
foreach(n IN LISTS AFTER)
  set(ck ${WORK}/ck-${n}.bin)
  file(REMOVE ${ck})
  execute_process(COMMAND ${RUNNER} ${IMAGE} ${args} --checkpoint ${ck} --checkpoint-after ${n}
    RESULT_VARIABLE s1 OUTPUT_VARIABLE o1 ERROR_VARIABLE e1)
  if(NOT EXISTS ${ck})
    continue() # the guest ended before n instructions
  endif()
  execute_process(COMMAND ${RUNNER} ${IMAGE} ${args} --restore ${ck} --digest
    RESULT_VARIABLE s2 OUTPUT_VARIABLE o2 ERROR_VARIABLE e2)
  string(REGEX MATCH "state digest [0-9a-f]+" digest2 "${e2}")
  if(NOT "${o1}${o2}" STREQUAL "${full_out}")
    message(FATAL_ERROR "console differs after a checkpoint at ${n}:\n--- full\n${full_out}\n--- split\n${o1}${o2}")
  endif()
  if(NOT s2 STREQUAL full_status)
    message(FATAL_ERROR "status ${s2} after restore, ${full_status} uninterrupted (${e2})")
  endif()
  if(NOT digest2 STREQUAL full_digest)
    message(FATAL_ERROR "final state differs: '${digest2}' vs '${full_digest}'")
  endif()
  math(EXPR split_done "${split_done} + 1")
  message("checkpoint at ${n}: identical (${full_digest}, status ${full_status})")
endforeach()
if(split_done EQUAL 0)
  message(FATAL_ERROR "the guest ended before every checkpoint point: ${AFTER}")
endif()
