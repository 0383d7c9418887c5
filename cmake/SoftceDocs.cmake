# Documentation: man pages (installed with the development files), the Doxygen API reference
# (target `docs`) and the documentation tests:
#   docs_doxygen    doxygen over include/softce/softce.h and the tutorials, warnings are errors
#   docs_man        every man page renders without a groff warning and names this version
#   docs_tutorials  every program of docs/tutorial-*.md compiles, runs and prints what the
#                   page shows (against the library of this build tree)
# Included by SoftceInstall.cmake.

option(SOFTCE_INSTALL_MAN "Install the man pages (section 3)" ON)

set(_softce_man_src ${PROJECT_SOURCE_DIR}/docs/man)
file(GLOB _softce_man_pages RELATIVE ${_softce_man_src} CONFIGURE_DEPENDS ${_softce_man_src}/*.3)

# Debian wants man pages gzip-compressed (-n: no name or time stamp, so the output is
# reproducible); man(1) reads both forms.
find_program(SOFTCE_GZIP gzip)
mark_as_advanced(SOFTCE_GZIP)
set(_softce_man_out ${PROJECT_BINARY_DIR}/man/man3)
file(MAKE_DIRECTORY ${_softce_man_out})
set(_softce_man_files "")
foreach(_page IN LISTS _softce_man_pages)
  if(SOFTCE_GZIP)
    add_custom_command(OUTPUT ${_softce_man_out}/${_page}.gz
      COMMAND sh -c "'${SOFTCE_GZIP}' -9n -c '${_page}' > '${_softce_man_out}/${_page}.gz'"
      WORKING_DIRECTORY ${_softce_man_src}
      DEPENDS ${_softce_man_src}/${_page} VERBATIM)
    list(APPEND _softce_man_files ${_softce_man_out}/${_page}.gz)
  else()
    list(APPEND _softce_man_files ${_softce_man_src}/${_page})
  endif()
endforeach()
add_custom_target(softce_man ALL DEPENDS ${_softce_man_files})
if(SOFTCE_INSTALL_MAN)
  install(FILES ${_softce_man_files} DESTINATION ${CMAKE_INSTALL_MANDIR}/man3
    COMPONENT development)
endif()

# API reference: docs/Doxyfile with the output directory and version of this build.
find_program(SOFTCE_DOXYGEN doxygen)
mark_as_advanced(SOFTCE_DOXYGEN)
set(_softce_doxyfile ${PROJECT_BINARY_DIR}/docs/Doxyfile)
file(WRITE ${_softce_doxyfile}.in
  "@INCLUDE = ${PROJECT_SOURCE_DIR}/docs/Doxyfile\n"
  "OUTPUT_DIRECTORY = ${PROJECT_BINARY_DIR}/docs\n"
  "PROJECT_NUMBER = ${PROJECT_VERSION}\n")
configure_file(${_softce_doxyfile}.in ${_softce_doxyfile} COPYONLY)
if(SOFTCE_DOXYGEN)
  add_custom_target(docs
    COMMAND ${SOFTCE_DOXYGEN} ${_softce_doxyfile}
    COMMAND ${CMAKE_COMMAND} -E echo "API reference: ${PROJECT_BINARY_DIR}/docs/html/index.html"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "Doxygen: API reference" VERBATIM)
endif()

if(NOT SOFTCE_BUILD_TESTS)
  return()
endif()

# Exit code 77 = skipped (a tool is missing); CI installs them all (.ci/setup).
if(SOFTCE_DOXYGEN)
  add_test(NAME docs_doxygen COMMAND ${SOFTCE_DOXYGEN} ${_softce_doxyfile}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
else()
  add_test(NAME docs_doxygen COMMAND sh -c "echo 'doxygen not found'; exit 77")
endif()
set_tests_properties(docs_doxygen PROPERTIES LABELS docs TIMEOUT 120 SKIP_RETURN_CODE 77)

add_test(NAME docs_man COMMAND sh ${PROJECT_SOURCE_DIR}/docs/man/check.sh "${PROJECT_VERSION}"
  ${_softce_man_pages} WORKING_DIRECTORY ${_softce_man_src})
set_tests_properties(docs_man PROPERTIES LABELS docs TIMEOUT 60 SKIP_RETURN_CODE 77)

set(_softce_tutorial_python /usr/bin/python3)
if(NOT EXISTS ${_softce_tutorial_python})
  find_package(Python3 COMPONENTS Interpreter)
  set(_softce_tutorial_python "${Python3_EXECUTABLE}")
endif()
if(_softce_tutorial_python)
  add_test(NAME docs_tutorials COMMAND ${_softce_tutorial_python}
    ${PROJECT_SOURCE_DIR}/docs/check_tutorials.py --cc=${CMAKE_C_COMPILER}
    "--cflags=-I${PROJECT_SOURCE_DIR}/include"
    "--libs=$<TARGET_FILE:softce> -Wl,-rpath,$<TARGET_FILE_DIR:softce>"
    --python=${_softce_tutorial_python} --work=${PROJECT_BINARY_DIR}/docs/tutorials
    docs/tutorial-c.md docs/tutorial-python.md
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(docs_tutorials PROPERTIES LABELS docs TIMEOUT 300
    ENVIRONMENT "SOFTCE_LIBRARY=$<TARGET_FILE:softce>;PYTHONDONTWRITEBYTECODE=1;\
PYTHONPATH=${PROJECT_SOURCE_DIR}/bindings/python")
endif()
