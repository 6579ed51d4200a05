# One bounded fuzz run (ctest fuzz_smoke_<target>): replay the regression
# inputs, then fuzz a scratch copy of the seed corpus with a fixed seed.
#   -DFUZZER= -DCORPUS= -DREGRESSIONS= -DWORK= -DSECONDS= -DRUNS=
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${CORPUS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK}/corpus)
endif()
file(GLOB regressions ${REGRESSIONS}/*)
# open-*: findings not fixed yet (reported, see README.md there); they only
# fail under VMDL_FUZZ_STRICT=1 and are not replayed here.
list(FILTER regressions EXCLUDE REGEX "(\\.md$|/open-[^/]*$)")
if(regressions)
  execute_process(COMMAND ${FUZZER} ${regressions}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${FUZZER}: a regression input fails again (${rc})")
  endif()
endif()
execute_process(COMMAND ${FUZZER} -seed=1 -max_total_time=${SECONDS}
                        -runs=${RUNS} -print_final_stats=1
                        -artifact_prefix=${WORK}/artifacts/
                        ${WORK}/corpus
                RESULT_VARIABLE rc ERROR_VARIABLE log OUTPUT_VARIABLE out)
string(REGEX MATCH "stat::number_of_executed_units: *[0-9]+" execs "${log}")
message(STATUS "${execs}")
if(NOT rc EQUAL 0)
  message("${log}")
  message(FATAL_ERROR "${FUZZER} failed (${rc}); reproducer in ${WORK}/artifacts")
endif()
