# Installation and packaging: the header, the libraries, softce.pc and the CMake package
# (softceConfig.cmake, softceConfigVersion.cmake, softceTargets.cmake).
#
# Layout under the prefix:
#   include/softce/softce.h
#   <libdir>/libsoftce.so.1.0.0, libsoftce.so.1 -> ..., libsoftce.so -> ...   (+ libsoftce.a)
#   <libdir>/pkgconfig/softce.pc
#   <libdir>/cmake/softce/softce{Config,ConfigVersion,Targets,StaticTargets}*.cmake
include(CMakePackageConfigHelpers)

set(SOFTCE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/softce"
    CACHE STRING "Where softceConfig.cmake is installed (relative to the prefix)")
mark_as_advanced(SOFTCE_INSTALL_CMAKEDIR)

install(TARGETS softce EXPORT softceTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/softce
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)

# The shared library links OpenMP privately, so softceTargets.cmake needs nothing else. The
# static archive passes OpenMP on to its consumers: it goes into its own export file, which
# softceConfig.cmake loads only after finding OpenMP (component "static").
if(TARGET softce_static)
  install(TARGETS softce_static EXPORT softceStaticTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT softceStaticTargets NAMESPACE softce::
    DESTINATION ${SOFTCE_INSTALL_CMAKEDIR} COMPONENT development)
endif()

install(EXPORT softceTargets NAMESPACE softce::
  DESTINATION ${SOFTCE_INSTALL_CMAKEDIR} COMPONENT development)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/softceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/softceConfig.cmake
  INSTALL_DESTINATION ${SOFTCE_INSTALL_CMAKEDIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/softceConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/softceConfig.cmake
              ${PROJECT_BINARY_DIR}/softceConfigVersion.cmake
  DESTINATION ${SOFTCE_INSTALL_CMAKEDIR} COMPONENT development)

# softce.pc finds its prefix from its own location (${pcfiledir}), so an installed tree can be
# moved. An absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR is used as given (not relocatable).
function(softce_pc_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

set(SOFTCE_PC_PREFIX "\${pcfiledir}")
if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  file(RELATIVE_PATH _softce_up "/softce-prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig"
       "/softce-prefix")
  string(REGEX REPLACE "/$" "" _softce_up "${_softce_up}")
  set(SOFTCE_PC_PREFIX "\${pcfiledir}/${_softce_up}")
else()
  set(SOFTCE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
endif()
softce_pc_dir(SOFTCE_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
softce_pc_dir(SOFTCE_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")

# What a static link needs besides libsoftce.a (pkg-config --static --libs softce).
set(SOFTCE_PC_LIBS_PRIVATE "")
foreach(_softce_lib IN LISTS OpenMP_C_LIB_NAMES)
  string(APPEND SOFTCE_PC_LIBS_PRIVATE " -l${_softce_lib}")
endforeach()
string(APPEND SOFTCE_PC_LIBS_PRIVATE " -lm")
string(STRIP "${SOFTCE_PC_LIBS_PRIVATE}" SOFTCE_PC_LIBS_PRIVATE)

configure_file(${CMAKE_CURRENT_LIST_DIR}/softce.pc.in ${PROJECT_BINARY_DIR}/softce.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/softce.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT development)

# libsoftce_mpi (mpi/, only when MPI was found): its own export file, loaded by
# softceConfig.cmake after finding MPI (component "mpi"), and softce_mpi.pc. Installed by
# `cmake --install` (components mpi and mpi_dev) but not part of the Debian packages, whose
# runtime package must not depend on Open MPI.
if(TARGET softce_mpi)
  install(EXPORT softceMpiTargets NAMESPACE softce::
    DESTINATION ${SOFTCE_INSTALL_CMAKEDIR} COMPONENT mpi_dev)
  set(SOFTCE_MPI_PC_CFLAGS "")
  foreach(_softce_dir IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND SOFTCE_MPI_PC_CFLAGS " -I${_softce_dir}")
  endforeach()
  string(STRIP "${SOFTCE_MPI_PC_CFLAGS}" SOFTCE_MPI_PC_CFLAGS)
  string(REPLACE ";" " " SOFTCE_MPI_PC_LIBS "${MPI_C_LIBRARIES}")
  configure_file(${PROJECT_SOURCE_DIR}/mpi/softce_mpi.pc.in ${PROJECT_BINARY_DIR}/softce_mpi.pc
                 @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/softce_mpi.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT mpi_dev)
endif()

# Man pages (development component), the API reference target `docs` and the docs tests.
include(SoftceDocs)
# Debian packages (CPack): last, after every install rule.
include(SoftcePackaging)
