# cmake -P script: builds and runs a consumer of arx in a scratch folder.
#   MODE=find_package     install arx from ARX_BINARY_DIR into a prefix, consumer finds it there
#   MODE=add_subdirectory consumer adds ARX_SOURCE_DIR as a subdirectory (must create no tests)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  message("${out}")
endfunction()

if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${ARX_BINARY_DIR} --prefix ${WORK_DIR}/prefix)
  set(src ${CONSUMER_DIR}/consumer)
  set(args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
  set(src ${CONSUMER_DIR}/subdir_consumer)
  set(args -DARX_SOURCE_DIR=${ARX_SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} -S ${src} -B ${WORK_DIR}/build -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_BUILD_TYPE=Release ${args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(MODE STREQUAL "find_package")
  run(${WORK_DIR}/build/sibling/consumer2)
endif()
