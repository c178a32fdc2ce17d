# Finds arx's dependencies as Debian 12 packages them. Used by arx's own build and, installed
# beside arxConfig.cmake, by consumers of the installed package.
#
# Debian's xsimd 8.1 package exports a target `xsimd` whose INTERFACE_LINK_LIBRARIES names a
# library `xtl` that does not exist as a file: consumers then fail with `cannot find -lxtl`.
# If xtl's own package is not installed we create an empty `xtl` target so the name resolves.
# No include guard: imported targets are directory-scoped, so every directory that calls
# find_package(arx) must run this again.
# xsimd's version file rejects newer major versions, so ask without a version and check here.
find_package(xsimd REQUIRED)
if(xsimd_VERSION AND xsimd_VERSION VERSION_LESS 8.1)
  message(FATAL_ERROR "arx needs xsimd >= 8.1, found ${xsimd_VERSION}")
endif()
if(NOT TARGET xtl)
  find_package(xtl QUIET)
  if(NOT TARGET xtl)
    add_library(xtl INTERFACE IMPORTED)
  endif()
endif()

find_package(Eigen3 3.3 REQUIRED NO_MODULE)

# arx::thread_pool uses std::thread.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
