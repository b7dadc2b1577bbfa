# Runs `switchyard run support --interactive` with three customer lines on stdin and
# checks that the turns share one thread and the cost report follows.
execute_process(COMMAND ${SY} run support --interactive --config ${CONFIG} --no-db
                        --log-level off --thread chat-test --json
                INPUT_FILE ${TURNS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "run support --interactive exited with ${rc}")
endif()
string(REGEX MATCHALL "\"thread_id\":\"chat-test\"" threads "${out}")
list(LENGTH threads turns)
if(NOT turns EQUAL 3)
  message(FATAL_ERROR "expected 3 turns on thread chat-test, got ${turns}")
endif()
if(NOT out MATCHES "\"route\":\"track_order\"")
  message(FATAL_ERROR "the second turn was not routed to track_order")
endif()
if(NOT out MATCHES "\"report\":{")
  message(FATAL_ERROR "no cost report at the end of input")
endif()
