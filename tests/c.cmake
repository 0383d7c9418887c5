# C unit tests (cmocka): one executable per area, black-box against the shared library
# through the public header only. Included by tests/CMakeLists.txt.
#   ref/     independent double-precision reference (never looks at src/)
#   common/  strided test tensors, random problems, full-cycle checks, API fixture
find_package(Threads REQUIRED)

set(SOFTCE_C_TESTS api validate values grad threads edge options split)

function(softce_test_target target)
  set_target_properties(${target} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                                             C_EXTENSIONS OFF)
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L)
  softce_set_warnings(${target})
endfunction()

add_library(softce_testref STATIC ${CMAKE_CURRENT_SOURCE_DIR}/ref/ref.c)
target_include_directories(softce_testref PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(softce_testref PUBLIC m)
softce_test_target(softce_testref)

add_library(softce_testkit STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/common/tutil.c
  ${CMAKE_CURRENT_SOURCE_DIR}/common/tcase.c
  ${CMAKE_CURRENT_SOURCE_DIR}/common/tcheck.c
  ${CMAKE_CURRENT_SOURCE_DIR}/common/apifx.c)
target_link_libraries(softce_testkit
  PUBLIC softce softce_testref PkgConfig::CMOCKA Threads::Threads m)
softce_test_target(softce_testkit)

foreach(area IN LISTS SOFTCE_C_TESTS)
  add_executable(test_${area} ${CMAKE_CURRENT_SOURCE_DIR}/test_${area}.c)
  target_link_libraries(test_${area} PRIVATE softce_testkit)
  softce_test_target(test_${area})
  add_test(NAME c_${area} COMMAND test_${area})
  set_tests_properties(c_${area} PROPERTIES LABELS "c" TIMEOUT 120)
endforeach()
# test_api looks up the symbol versions of softce_options_init (dlvsym).
target_link_libraries(test_api PRIVATE ${CMAKE_DL_LIBS})

# Every ISA path passes the whole C suite: the same executables again with the dispatch
# forced (a level the CPU lacks falls back to the best one below it).
foreach(isa IN ITEMS scalar avx2 avx512)
  foreach(area IN LISTS SOFTCE_C_TESTS)
    add_test(NAME c_${area}_${isa} COMMAND test_${area})
    set_tests_properties(c_${area}_${isa} PROPERTIES LABELS "c;isa" TIMEOUT 120
                         ENVIRONMENT SOFTCE_FORCE_ISA=${isa})
  endforeach()
endforeach()
# test_split computes rows of >= 131072 classes in four logits dtypes and mixed ones: ~15 s
# natively, 105-120 s under ASan (.ci/hardening.sh), where 120 s timed out.
set_tests_properties(c_split c_split_scalar c_split_avx2 c_split_avx512 PROPERTIES TIMEOUT 480)
