# Install the built tree into a scratch prefix, then build and run a consumer
# against it twice: with find_package(virtmodel) and with pkg-config.
set(prefix ${WORK}/prefix)
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix}
                RESULT_VARIABLE r OUTPUT_QUIET)
if(r)
  message(FATAL_ERROR "cmake --install failed")
endif()
foreach(f include/virtmodel/machine.h lib/libvirtmodel.a lib/pkgconfig/virtmodel.pc
          lib/cmake/virtmodel/virtmodelConfig.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${WORK}/cbuild
                -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${CC}
                RESULT_VARIABLE r OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(r)
  message(FATAL_ERROR "configuring the consumer failed:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/cbuild
                RESULT_VARIABLE r OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(r)
  message(FATAL_ERROR "building the consumer failed:\n${out}")
endif()
execute_process(COMMAND ${WORK}/cbuild/consumer RESULT_VARIABLE r OUTPUT_VARIABLE out)
message("${out}")
if(r OR NOT out MATCHES "k\nconsumer: exit shutdown status 1")
  message(FATAL_ERROR "consumer (find_package) failed")
endif()
# pkg-config route
execute_process(COMMAND pkg-config --cflags --libs --static virtmodel
                RESULT_VARIABLE r OUTPUT_VARIABLE flags
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(r)
  message(FATAL_ERROR "pkg-config virtmodel failed")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
execute_process(COMMAND ${CC} -o ${WORK}/consumer-pc ${SRC}/consumer.c ${flags}
                RESULT_VARIABLE r ERROR_VARIABLE out)
if(r)
  message(FATAL_ERROR "building with pkg-config flags failed:\n${out}")
endif()
execute_process(COMMAND ${WORK}/consumer-pc RESULT_VARIABLE r)
if(r)
  message(FATAL_ERROR "consumer (pkg-config) failed")
endif()
