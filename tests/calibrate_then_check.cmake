# Runs `switchyard router calibrate --write-config` on a copy of the default config,
# then `switchyard config check` on the result, printing both outputs.
execute_process(COMMAND ${SY} router calibrate --outcomes ${OUTCOMES} --target 0.9
                        --write-config ${CONFIG}
                RESULT_VARIABLE calibrate_rc OUTPUT_VARIABLE calibrate_out ERROR_VARIABLE calibrate_err)
message("${calibrate_out}${calibrate_err}")
if(NOT calibrate_rc EQUAL 0)
  message(FATAL_ERROR "calibrate exited with ${calibrate_rc}")
endif()
execute_process(COMMAND ${SY} config check --config ${CONFIG}
                RESULT_VARIABLE check_rc OUTPUT_VARIABLE check_out ERROR_VARIABLE check_err)
message("${check_out}${check_err}")
if(NOT check_rc EQUAL 0)
  message(FATAL_ERROR "config check exited with ${check_rc}")
endif()
