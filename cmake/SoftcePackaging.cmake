# Debian packages with CPack (included by SoftceInstall.cmake, after every install rule):
#
#   libsoftce<ABI>   component "runtime":     libsoftce.so.<ABI>.* and the libsoftce.so.<ABI> link
#   libsoftce-dev    component "development": header, libsoftce.so link, softce.pc, the CMake
#                                             package, man pages (and libsoftce.a when built)
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-deb -j2 && (cd build-deb && cpack -G DEB)
#
# Configure with CMAKE_INSTALL_PREFIX=/usr so that GNUInstallDirs picks Debian's multiarch
# libdir (lib/x86_64-linux-gnu); the packages install under /usr whatever the prefix was.
# .ci/packages.sh builds them, installs them into a scratch root and runs every example there.

set(SOFTCE_PACKAGE_CONTACT "libsoftce authors <maintainers@libsoftce.invalid>"
    CACHE STRING "Maintainer field of the Debian packages")
set(SOFTCE_PACKAGE_RELEASE "1" CACHE STRING "Debian revision of the packages (1.0.0-<this>)")
mark_as_advanced(SOFTCE_PACKAGE_CONTACT SOFTCE_PACKAGE_RELEASE)

set(_softce_runtime_pkg "libsoftce${SOFTCE_ABI_VERSION}")
set(_softce_deb_version "${PROJECT_VERSION}-${SOFTCE_PACKAGE_RELEASE}")

# Debian wants the copyright file in /usr/share/doc/<package>/ of every binary package.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_softce_runtime_pkg}
  RENAME copyright COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libsoftce-dev
  RENAME copyright COMPONENT development)

set(CPACK_PACKAGE_NAME "libsoftce")
set(CPACK_PACKAGE_VENDOR "The libsoftce authors")
set(CPACK_PACKAGE_CONTACT "${SOFTCE_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
# CPackDeb prepends the summary to every package's description unless it is CPack's default
# value: keep that, so each package's first line (its synopsis) is its own.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON) # the .symtab only: the exported dynamic symbols stay
set(CPACK_GENERATOR "DEB")
set(CPACK_DEB_COMPONENT_INSTALL ON)
# Only these two: other components (Python, benchmarks) are not part of the C packages.
set(CPACK_COMPONENTS_ALL runtime development)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # <package>_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE "${SOFTCE_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")

# Runtime: Depends from dpkg-shlibdeps (libc6, libgomp1 with their minimum versions); a shlibs
# file so that packages built against it depend on libsoftce1 (>= the version they saw).
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME "${_softce_runtime_pkg}")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION "libs")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
"softmax cross-entropy loss and gradients - shared library
libsoftce computes the softmax cross-entropy loss and its gradients on the CPU, for class-index
(hard) and probability (soft) targets, with the semantics of PyTorch's
torch.nn.functional.cross_entropy: class weights, ignore_index, label smoothing and
mean/sum/none reductions. Logits in f32, f64, f16 and bf16, any strides, multi-threaded with
OpenMP and bitwise identical for any thread count.
.
This package contains the shared library.")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
find_program(SOFTCE_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(SOFTCE_FILE_PROGRAM file) # CPack needs file(1) to find the ELF files
mark_as_advanced(SOFTCE_DPKG_SHLIBDEPS SOFTCE_FILE_PROGRAM)
if(SOFTCE_DPKG_SHLIBDEPS AND SOFTCE_FILE_PROGRAM)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
else()
  # What dpkg-shlibdeps finds on Debian 12 for a GCC build (C11, OpenMP).
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "libc6 (>= 2.29), libgomp1 (>= 4.9)")
endif()

# Development: the header, links and build-system files of exactly this runtime version.
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME "libsoftce-dev")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "${_softce_runtime_pkg} (= ${_softce_deb_version})")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SUGGESTS "pkg-config, cmake")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION
"softmax cross-entropy loss and gradients - development files
libsoftce computes the softmax cross-entropy loss and its gradients on the CPU, for class-index
(hard) and probability (soft) targets, with the semantics of PyTorch's
torch.nn.functional.cross_entropy.
.
This package contains the C header, the libsoftce.so link, the pkg-config file softce.pc,
the CMake package (find_package(softce CONFIG)) and the man pages of the API.")

if(NOT CMAKE_INSTALL_LIBDIR MATCHES "^lib/" AND EXISTS /etc/debian_version
   AND NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "softce: for Debian packages configure with -DCMAKE_INSTALL_PREFIX=/usr "
                 "(multiarch libdir); libdir is now ${CMAKE_INSTALL_LIBDIR}")
endif()

# `make package_source`: the tree without build products and VCS data.
set(CPACK_SOURCE_GENERATOR "TXZ")
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/out/" "__pycache__" "\\\\.swp$")

include(CPack)
