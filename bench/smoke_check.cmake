# cmake -DBENCH=<softce_bench> -DCSV=<file> -P smoke_check.cmake
# Runs softce_bench on its --quick shapes and checks that the CSV is complete and well formed:
# one roofline row per (shape, dtype, threads) and one row per (shape, dtype, threads, target,
# op), every time positive, every loss finite and positive (the 'move' pass of --move has none:
# nan), and that --gap announces itself. Speeds are NOT checked.
file(REMOVE ${CSV})
execute_process(
  COMMAND ${BENCH} --quick --move --gap 0.05 --reps 1 --warmup 0 --threads 1,2 --csv ${CSV}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "softce_bench exited with ${rc}\n${out}\n${err}")
endif()
if(NOT out MATCHES "# idle gap of 0.05 ms before each timed pass")
  message(FATAL_ERROR "softce_bench --gap 0.05 did not report its gap:\n${out}")
endif()

file(STRINGS ${CSV} lines)
list(POP_FRONT lines header)
string(CONCAT expected_header "impl,shape,dims,dtype,target,op,threads,reps,"
  "median_ms,min_ms,max_ms,logits_bytes,gbps,roof_ms,roof_gbps,t_over_roof,pct_roof,loss")
if(NOT header STREQUAL expected_header)
  message(FATAL_ERROR "unexpected CSV header: ${header}")
endif()

set(number "^[0-9]+(\\.[0-9]+)?(e[-+][0-9]+)?$")
set(n_roof 0)
set(n_ops 0)
set(n_move 0)
foreach(line IN LISTS lines)
  string(REPLACE "," ";" f "${line}")
  list(LENGTH f n)
  if(NOT n EQUAL 18)
    message(FATAL_ERROR "row with ${n} fields: ${line}")
  endif()
  list(GET f 0 impl)
  list(GET f 5 op)
  list(GET f 8 median)
  list(GET f 12 gbps)
  list(GET f 13 roof)
  list(GET f 17 loss)
  foreach(v IN ITEMS ${median} ${gbps} ${roof})
    if(NOT v MATCHES "${number}" OR v EQUAL 0)
      message(FATAL_ERROR "not a positive number: '${v}' in ${line}")
    endif()
  endforeach()
  if(NOT impl STREQUAL "softce")
    message(FATAL_ERROR "impl '${impl}' in ${line}")
  endif()
  if(op STREQUAL "roofline")
    math(EXPR n_roof "${n_roof} + 1")
  elseif(op MATCHES "^(forward|fused|fused_inplace)$")
    if(NOT loss MATCHES "${number}" OR loss EQUAL 0)
      message(FATAL_ERROR "loss '${loss}' is not finite and positive in ${line}")
    endif()
    math(EXPR n_ops "${n_ops} + 1")
  elseif(op STREQUAL "move")
    if(NOT loss STREQUAL "nan")
      message(FATAL_ERROR "a move row has loss '${loss}' (nan expected): ${line}")
    endif()
    math(EXPR n_move "${n_move} + 1")
  else()
    message(FATAL_ERROR "unknown op '${op}' in ${line}")
  endif()
endforeach()

# 5 quick shapes x 2 dtypes x 2 thread counts; x 2 targets x 3 ops for the timed calls, x 2
# targets for the move passes.
if(NOT n_roof EQUAL 20 OR NOT n_ops EQUAL 120 OR NOT n_move EQUAL 40)
  message(FATAL_ERROR "expected 20 roofline, 120 op and 40 move rows, got ${n_roof}, "
                      "${n_ops} and ${n_move}")
endif()
message(STATUS "softce_bench smoke: ${n_roof} roofline rows, ${n_ops} op rows, ${n_move} move "
               "rows, all well formed")
